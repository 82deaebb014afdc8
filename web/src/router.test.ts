import { describe, expect, it } from "vitest";
import { href, parseRoute, type Route } from "./router";

describe("routes", () => {
  it("parses every page", () => {
    expect(parseRoute("")).toEqual({ page: "list" });
    expect(parseRoute("#/")).toEqual({ page: "list" });
    expect(parseRoute("#/login?next=%2Fcampaigns%2Fa")).toEqual({ page: "login", next: "/campaigns/a" });
    expect(parseRoute("#/campaigns/spring-sale")).toEqual({ page: "editor", name: "spring-sale" });
    expect(parseRoute("#/campaigns/spring-sale/report")).toEqual({ page: "report", name: "spring-sale" });
    expect(parseRoute("#/runs/r-1")).toEqual({ page: "run", id: "r-1" });
    expect(parseRoute("#/nowhere/x/y")).toEqual({ page: "not_found", path: "/nowhere/x/y" });
  });

  it("href and parseRoute are inverse", () => {
    const routes: Route[] = [
      { page: "list" },
      { page: "editor", name: "a b" },
      { page: "report", name: "spring-sale" },
      { page: "run", id: "0f3a" },
      { page: "login", next: "/runs/1" },
    ];
    for (const route of routes) expect(parseRoute(href(route))).toEqual(route);
  });
});
