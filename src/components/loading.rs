use yew::prelude::*;

/// A neutral waiting state, as `index.html` paints before the app runs. A function, not a
/// component: it is markup only.
pub fn loading(label: &'static str) -> Html {
    html! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            { label }
        </p>
    }
}
