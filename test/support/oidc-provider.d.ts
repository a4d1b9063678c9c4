// oidc-provider ships no types (and @types/oidc-provider lags its major versions): just what our tests use.
declare module "oidc-provider" {
  interface KoaContext {
    path: string;
    method: string;
    status: number;
    body: unknown;
  }
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void): void;
    callback(): (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void;
  }
}
