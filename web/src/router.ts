// Hash routes, so the server only ever serves `/` (no fallback routing needed):
//   #/login  #/  #/campaigns/NAME  #/campaigns/NAME/report  #/runs/ID
import { useEffect, useState } from "react";

export type Route =
  | { page: "login"; next: string }
  | { page: "list" }
  | { page: "editor"; name: string }
  | { page: "report"; name: string }
  | { page: "run"; id: string }
  | { page: "not_found"; path: string };

/** Parse a location hash (`#/campaigns/spring-sale`) into a route. Pure, for tests. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const [pathname, query = ""] = path.split("?", 2);
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "list" };
  if (parts[0] === "login" && parts.length === 1) {
    return { page: "login", next: new URLSearchParams(query).get("next") || "/" };
  }
  if (parts[0] === "campaigns" && parts.length === 2) return { page: "editor", name: parts[1] };
  if (parts[0] === "campaigns" && parts.length === 3 && parts[2] === "report") return { page: "report", name: parts[1] };
  if (parts[0] === "runs" && parts.length === 2) return { page: "run", id: parts[1] };
  return { page: "not_found", path: pathname };
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case "login":
      return route.next && route.next !== "/" ? `#/login?next=${e(route.next)}` : "#/login";
    case "list":
      return "#/";
    case "editor":
      return `#/campaigns/${e(route.name)}`;
    case "report":
      return `#/campaigns/${e(route.name)}/report`;
    case "run":
      return `#/runs/${e(route.id)}`;
    case "not_found":
      return `#${route.path}`;
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route).slice(1);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
