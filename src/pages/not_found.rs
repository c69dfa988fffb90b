use yew::prelude::*;
use yew_router::prelude::*;

use crate::routes::Route;

pub fn not_found_page() -> Html {
    html! {
        <section class="panel">
            <h1>{ "Page not found" }</h1>
            <p>{ "There is no page at this address." }</p>
            <Link<Route> to={Route::Login} classes="button">{ "Go to the start page" }</Link<Route>>
        </section>
    }
}
