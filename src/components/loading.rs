use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LoadingProps {
    pub label: AttrValue,
}

#[function_component(Loading)]
pub fn loading(props: &LoadingProps) -> Html {
    html! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            { props.label.clone() }
        </p>
    }
}
