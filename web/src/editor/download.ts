export { downloadText } from "../download";
