import { lazy, Suspense, useCallback, useEffect, useState } from "react";
import { auth, setUnauthorizedHandler, type User } from "./api";
import { CampaignList } from "./pages/CampaignList";
import { Login } from "./pages/Login";
import { Editor } from "./editor/Editor";
import { href, navigate, useRoute } from "./router";
import { SessionContext } from "./session";

// Pages opened rarely load their code when first opened (the editor and the list
// come with the app).
const ReportView = lazy(() => import("./reports/ReportView").then((m) => ({ default: m.ReportView })));
const RunView = lazy(() => import("./monitor/RunView").then((m) => ({ default: m.RunView })));

/** The shell: who is logged in, the header, and the page the hash names. */
export function App() {
  const route = useRoute();
  const [user, setUser] = useState<User | null | undefined>(undefined);

  const refresh = useCallback(async () => {
    try {
      setUser((await auth.me()).user);
    } catch {
      setUser(null);
    }
  }, []);

  useEffect(() => {
    void refresh();
    setUnauthorizedHandler(() => setUser(null));
    return () => setUnauthorizedHandler(null);
  }, [refresh]);

  // Logged out (or the session expired): every page but login sends to login.
  useEffect(() => {
    if (user === null && route.page !== "login") {
      const here = window.location.hash.replace(/^#/, "") || "/";
      navigate({ page: "login", next: here });
    }
  }, [user, route.page]);

  async function logout() {
    await auth.logout().catch(() => undefined);
    setUser(null);
  }

  if (user === undefined) return <p className="page">Loading…</p>;

  let page;
  switch (route.page) {
    case "login":
      page = <Login next={route.next} />;
      break;
    case "list":
      page = <CampaignList />;
      break;
    case "editor":
      page = <Editor key={route.name} name={route.name} />;
      break;
    case "report":
      page = <ReportView key={route.name} name={route.name} />;
      break;
    case "run":
      page = <RunView key={route.id} id={route.id} />;
      break;
    default:
      page = (
        <main className="page">
          <h1>Not found</h1>
          <p>
            Nothing at <code>{route.path}</code>. <a href="#/">Back to the campaigns</a>.
          </p>
        </main>
      );
  }

  return (
    <SessionContext.Provider value={{ user: user ?? null, refresh }}>
      {user && (
        <header className="appbar">
          <a className="brand" href={href({ page: "list" })}>
            Overture
          </a>
          <nav aria-label="Main">
            <a href={href({ page: "list" })}>Campaigns</a>
          </nav>
          <span className="who">
            {user.username} ({user.role})
          </span>
          <button type="button" onClick={logout}>
            Log out
          </button>
        </header>
      )}
      <Suspense fallback={<p className="page">Loading…</p>}>{page}</Suspense>
    </SessionContext.Provider>
  );
}
