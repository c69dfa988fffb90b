// The issue's size budget says: smaller than a React app doing the same job with Auth0's
// JavaScript library. This is that app, as small as React allows: sign in, the callback,
// the appointments list with the access token. It does less than the Yew app (no profile,
// no token inspector, no renewal UI, no error explanations), so its size is a lower bound.
// `cargo xtask bench` bundles it with esbuild (minified, production) and measures it.
import { createRoot } from "react-dom/client";
import { useEffect, useState } from "react";
import { BrowserRouter, Routes, Route, useNavigate } from "react-router";
import { createAuth0Client } from "@auth0/auth0-spa-js";

const auth = createAuth0Client({ domain: "dev.example.com", clientId: "x",
  authorizationParams: { audience: "a", redirect_uri: location.origin + "/callback" } });

function Login() {
  return <button onClick={async () => (await auth).loginWithRedirect()}>Sign in</button>;
}
function Callback() {
  const nav = useNavigate(); const [err, setErr] = useState(null);
  useEffect(() => { auth.then(a => a.handleRedirectCallback()).then(() => nav("/appointments"), e => setErr(String(e))); }, []);
  return err ? <p role="alert">{err}</p> : <p>Signing in…</p>;
}
function Appointments() {
  const [list, setList] = useState(null);
  useEffect(() => { auth.then(a => a.getTokenSilently()).then(t => fetch("http://localhost:7001/api/appointments",
    { headers: { Authorization: "Bearer " + t } })).then(r => r.json()).then(setList); }, []);
  return <ul>{(list || []).map(a => <li key={a.id}>{a.title}</li>)}</ul>;
}
createRoot(document.getElementById("root")).render(
  <BrowserRouter><Routes>
    <Route path="/" element={<Login />} /><Route path="/callback" element={<Callback />} />
    <Route path="/appointments" element={<Appointments />} />
  </Routes></BrowserRouter>);
