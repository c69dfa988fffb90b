use yew::prelude::*;

#[function_component(App)]
fn app() -> Html {
    html! { <main><h1>{ "Appointments" }</h1><p>{ "The single-page app is coming." }</p></main> }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
