use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ErrorPanelProps {
    pub title: AttrValue,
    /// What went wrong, as plain text (never HTML from a server or a URL).
    pub message: AttrValue,
    /// The technical code, shown under the message.
    #[prop_or_default]
    pub code: Option<AttrValue>,
    /// Further details as plain text, e.g. the tenant's `error_description`.
    #[prop_or_default]
    pub detail: Option<AttrValue>,
    /// The panel is the whole page: its title is the page's `<h1>`.
    #[prop_or_default]
    pub main: bool,
    /// The way out: buttons or links.
    #[prop_or_default]
    pub children: Html,
}

#[function_component(ErrorPanel)]
pub fn error_panel(props: &ErrorPanelProps) -> Html {
    html! {
        <section class="panel error" role="alert" aria-live="assertive">
            if props.main {
                <h1>{ props.title.clone() }</h1>
            } else {
                <h2>{ props.title.clone() }</h2>
            }
            <p class="message">{ props.message.clone() }</p>
            if let Some(detail) = &props.detail {
                <p class="detail">{ detail.clone() }</p>
            }
            if let Some(code) = &props.code {
                <p class="code">{ "Error code: " }<code>{ code.clone() }</code></p>
            }
            <div class="actions">{ props.children.clone() }</div>
        </section>
    }
}
