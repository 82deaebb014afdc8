// Who is logged in, for every page: a React context filled from GET /api/me.
import { createContext, useContext } from "react";
import type { User } from "./api";

export interface Session {
  user: User | null;
  /** ask the server again (after login or logout) */
  refresh: () => Promise<void>;
}

export const SessionContext = createContext<Session>({ user: null, refresh: async () => {} });
export const useSession = () => useContext(SessionContext);
