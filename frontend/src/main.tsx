import { render } from "preact";
import { interceptLinks } from "./router";
import { Shell } from "./shell";
import "./style.css";

interceptLinks();
const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading Magpie…" placeholder
render(<Shell />, root);
