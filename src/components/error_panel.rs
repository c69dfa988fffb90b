use yew::prelude::*;

/// What went wrong, in words, with its code and the way out. Markup only, so a function and
/// not a component: each component costs the wasm its own lifecycle code.
pub struct ErrorPanel {
    pub title: &'static str,
    /// What went wrong, as plain text (never HTML from a server or a URL).
    pub message: AttrValue,
    /// The technical code, shown under the message.
    pub code: Option<AttrValue>,
    /// Further details as plain text, e.g. the tenant's `error_description`.
    pub detail: Option<AttrValue>,
    /// The panel is the whole page: its title is the page's `<h1>`.
    pub main: bool,
}

impl ErrorPanel {
    pub fn new(title: &'static str, message: impl Into<AttrValue>) -> Self {
        ErrorPanel {
            title,
            message: message.into(),
            code: None,
            detail: None,
            main: false,
        }
    }

    pub fn code(self, code: impl Into<AttrValue>) -> Self {
        ErrorPanel {
            code: Some(code.into()),
            ..self
        }
    }

    pub fn detail(self, detail: Option<AttrValue>) -> Self {
        ErrorPanel { detail, ..self }
    }

    pub fn main(self) -> Self {
        ErrorPanel { main: true, ..self }
    }

    /// The panel, with `actions` (buttons or links) as the way out.
    pub fn view(self, actions: Html) -> Html {
        html! {
            <section class="panel error" role="alert" aria-live="assertive">
                if self.main {
                    <h1>{ self.title }</h1>
                } else {
                    <h2>{ self.title }</h2>
                }
                <p class="message">{ self.message }</p>
                if let Some(detail) = self.detail {
                    <p class="detail">{ detail }</p>
                }
                if let Some(code) = self.code {
                    <p class="code">{ "Error code: " }<code>{ code }</code></p>
                }
                <div class="actions">{ actions }</div>
            </section>
        }
    }
}
