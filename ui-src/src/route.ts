// View state lives in the URL hash, so a view can be shared: #/?where=..&sort=.. or #/run/ID?x=step&level=info.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#/, "");
  const [path, query = ""] = text.split("?", 2);
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

export function hrefFor(path: string[], query: Record<string, string> = {}): string {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== ""));
  const qs = q.toString();
  return "#/" + path.map(encodeURIComponent).join("/") + (qs ? "?" + qs : "");
}

/** Replace query keys of the current route (history entry replaced, not pushed). */
export function setQuery(route: Route, changes: Record<string, string>): void {
  const merged: Record<string, string> = {};
  route.query.forEach((v, k) => (merged[k] = v));
  Object.assign(merged, changes);
  history.replaceState(history.state, "", hrefFor(route.path, merged)); // keeps a pushed entry's state
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parseHash(hash);
}
