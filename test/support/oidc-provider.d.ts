// oidc-provider ships no types (and @types/oidc-provider lags its major versions): just what our tests use.
declare module "oidc-provider" {
  export interface KoaContext {
    path: string;
    method: string;
    status: number;
    type: string;
    body: unknown;
    req: import("node:http").IncomingMessage;
    get(header: string): string;
  }
  type Req = import("node:http").IncomingMessage;
  type Res = import("node:http").ServerResponse;
  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; details: Record<string, unknown> };
    params: Record<string, unknown>;
    session?: { accountId: string };
    grantId?: string;
  }
  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(indicator: string, scope: string): void;
    save(): Promise<string>;
  }
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void): void;
    callback(): (req: Req, res: Res) => void;
    on(event: "error", listener: (error: unknown) => void): this;
    interactionDetails(req: Req, res: Res): Promise<InteractionDetails>;
    interactionFinished(req: Req, res: Res, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    Grant: { new (init: { accountId: string; clientId: string }): Grant; find(id: string): Promise<Grant> };
  }
}
