use gloo_timers::callback::Interval;
use wasm_bindgen::JsValue;
use yew::prelude::*;

use crate::browser;

#[derive(Properties, PartialEq)]
pub struct CountdownProps {
    /// The moment counted down to, in milliseconds since the epoch.
    pub until_ms: f64,
}

/// The time left until `until_ms`, updated every second, with the moment itself in the
/// user's local time as a tooltip.
#[function_component(Countdown)]
pub fn countdown(props: &CountdownProps) -> Html {
    let now = use_state(browser::now_ms);
    {
        let now = now.clone();
        use_effect_with((), move |_| {
            let interval = Interval::new(1_000, move || now.set(browser::now_ms()));
            move || drop(interval)
        });
    }
    let title = use_memo(props.until_ms, |until| local_time_ms(*until));
    // A timer that announced every second would drown a screen reader: `aria-live="off"`.
    html! {
        <span class="countdown" role="timer" aria-live="off" title={(*title).clone()}>
            { time_left(props.until_ms - *now) }
        </span>
    }
}

/// `1 h 59 min`, `4 min 05 s`, `12 s`, or `expired` once nothing is left. Partial seconds
/// count as a whole one, so `expired` shows exactly when the time is up.
pub fn time_left(remaining_ms: f64) -> String {
    if remaining_ms.is_nan() || remaining_ms <= 0.0 {
        return "expired".into();
    }
    let total = (remaining_ms / 1000.0).ceil() as u64;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else if minutes > 0 {
        format!("{minutes} min {seconds:02} s")
    } else {
        format!("{seconds} s")
    }
}

/// A moment in milliseconds since the epoch in the user's locale and time zone, or `None`
/// outside the range a `Date` can hold (a token's `exp` can be any number).
pub fn local_time_ms(ms: f64) -> Option<String> {
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    if date.get_time().is_nan() {
        return None;
    }
    browser::local_time(&String::from(date.to_iso_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: f64 = 1000.0;

    #[test]
    fn formats_hours_minutes_and_seconds() {
        assert_eq!(time_left((2.0 * 3600.0 - 60.0) * S), "1 h 59 min");
        assert_eq!(time_left(7200.0 * S), "2 h 00 min");
        assert_eq!(time_left((3600.0 + 5.0 * 60.0 + 59.0) * S), "1 h 05 min");
        assert_eq!(time_left(3600.0 * S), "1 h 00 min");
        assert_eq!(time_left(3599.0 * S), "59 min 59 s");
        assert_eq!(time_left(245.0 * S), "4 min 05 s");
        assert_eq!(time_left(60.0 * S), "1 min 00 s");
        assert_eq!(time_left(59.0 * S), "59 s");
        assert_eq!(time_left(12.0 * S), "12 s");
        assert_eq!(time_left(30.0 * 3600.0 * S), "30 h 00 min");
    }

    #[test]
    fn partial_seconds_round_up_until_the_time_is_up() {
        assert_eq!(time_left(11_001.0), "12 s");
        assert_eq!(time_left(1.0), "1 s");
        assert_eq!(time_left(59_999.0), "1 min 00 s");
        assert_eq!(time_left(0.0), "expired");
        assert_eq!(time_left(-0.0), "expired");
        assert_eq!(time_left(-1.0), "expired");
        assert_eq!(time_left(-86_400.0 * S), "expired");
    }

    #[test]
    fn never_panics_on_odd_numbers() {
        assert_eq!(time_left(f64::NAN), "expired");
        assert_eq!(time_left(f64::NEG_INFINITY), "expired");
        assert!(time_left(f64::INFINITY).ends_with(" min"));
        assert!(time_left(f64::MAX).ends_with(" min"));
    }
}
