// React's counterpart of benches/yew-floor: React and React Router with one routed page.
import { createRoot } from "react-dom/client";
import { useState } from "react";
import { BrowserRouter, Routes, Route } from "react-router";
function Home() { const [n, setN] = useState(0); return <button onClick={() => setN(n + 1)}>{"Sign in (" + n + ")"}</button>; }
createRoot(document.getElementById("root")).render(
  <BrowserRouter><Routes><Route path="/" element={<Home />} /><Route path="*" element={<p>Not found</p>} /></Routes></BrowserRouter>);
