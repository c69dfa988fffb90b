//! A `BroadcastChannel` between the tabs of this origin: how a sign-out in one tab reaches
//! the others.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

const NAME: &str = "appointments.auth";

/// Sends `message` to every other tab listening (not to this one).
pub fn broadcast(message: &str) {
    if let Ok(channel) = BroadcastChannel::new(NAME) {
        let _ = channel.post_message(&message.into());
        channel.close();
    }
}

/// Calls `on_message` with each text message another tab broadcasts, until dropped.
pub struct Listener {
    channel: BroadcastChannel,
    _callback: Closure<dyn FnMut(MessageEvent)>,
}

impl Listener {
    pub fn new(on_message: impl Fn(String) + 'static) -> Option<Listener> {
        let channel = BroadcastChannel::new(NAME).ok()?;
        let callback = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                on_message(text);
            }
        });
        channel.set_onmessage(Some(callback.as_ref().unchecked_ref()));
        Some(Listener {
            channel,
            _callback: callback,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
