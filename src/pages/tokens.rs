use yew::prelude::*;

/// `/tokens`: the token inspector.
#[function_component(TokensPage)]
pub fn tokens_page() -> Html {
    html! { <section><h1>{ "Tokens" }</h1></section> }
}
