use yew::prelude::*;

/// `/profile`: who is signed in, from the ID token and from `/userinfo`.
#[function_component(ProfilePage)]
pub fn profile_page() -> Html {
    html! { <section><h1>{ "Profile" }</h1></section> }
}
