import { afterEach, describe, expect, it, vi } from "vitest";
import { prefetchCampaign, takePrefetched } from "./prefetch";

function fakeWindow(hash: string) {
  const listeners = new Set<() => void>();
  const win = {
    location: { hash },
    addEventListener: (_: string, f: () => void) => listeners.add(f),
    removeEventListener: (_: string, f: () => void) => listeners.delete(f),
  };
  vi.stubGlobal("window", win);
  const fetch = vi.fn(async () => new Response("{}", { status: 200 }));
  vi.stubGlobal("fetch", fetch);
  const go = (to: string) => {
    win.location.hash = to;
    [...listeners].forEach((f) => f());
  };
  return { fetch, go };
}

afterEach(() => {
  takePrefetched("spring-sale"); // nothing left over for the next test
  vi.unstubAllGlobals();
});

describe("prefetching the campaign the page opens", () => {
  it("asks for an editor's campaign once, for that campaign only", async () => {
    const { fetch } = fakeWindow("#/campaigns/spring%20sale");
    prefetchCampaign();
    expect(fetch).toHaveBeenCalledWith("/api/campaigns/spring%20sale", expect.objectContaining({ credentials: "same-origin" }));
    expect(takePrefetched("other")).toBeNull();
    const answer = takePrefetched("spring sale");
    expect((await answer)?.ok).toBe(true);
    expect(takePrefetched("spring sale")).toBeNull();
  });

  it("asks for nothing on other pages", () => {
    const { fetch } = fakeWindow("#/campaigns/spring-sale/report");
    prefetchCampaign();
    expect(fetch).not.toHaveBeenCalled();
    expect(takePrefetched("spring-sale")).toBeNull();
  });

  it("keeps the answer when the page's hash is written again", () => {
    const { go } = fakeWindow("#/campaigns/spring-sale");
    prefetchCampaign();
    go("#/campaigns/spring-sale"); // as the redirect of `/?campaign=NAME` links does
    expect(takePrefetched("spring-sale")).not.toBeNull();
  });

  it("forgets the answer when the page is left, even to come back", () => {
    const { go } = fakeWindow("#/campaigns/spring-sale");
    prefetchCampaign();
    go("#/");
    go("#/campaigns/spring-sale");
    expect(takePrefetched("spring-sale")).toBeNull();
  });
});
