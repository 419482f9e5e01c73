// The kind table lives in @dataprotection/api; re-exported so the controllers' imports stay short.
export { Kinds } from "@dataprotection/api";
