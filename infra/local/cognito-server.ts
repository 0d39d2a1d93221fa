/**
 * Runs cognito-local (in its own process, from its data directory) with two
 * behaviours of real Cognito it lacks, which our email rules rely on:
 *
 * - an app client's WriteAttributes: with a user's access token,
 *   UpdateUserAttributes may write only the attributes the client may write
 *   (Cognito answers NotAuthorizedException "A client attempted to write
 *   unauthorized attribute"). cognito-local stores the list but never checks it.
 * - AttributesRequireVerificationBeforeUpdate ("keep original") also applies to
 *   AdminUpdateUserAttributes: the original value stays until the new one is
 *   verified, and a code goes to the new address. cognito-local applies the
 *   admin change at once.
 *
 * Each is patched into cognito-local's target table, the object its router
 * reads on every request, before its own start script runs.
 */
import { NotAuthorizedError } from 'cognito-local/lib/errors';
import { selectAppropriateDeliveryMethod } from 'cognito-local/lib/services/messageDelivery/deliveryMethod';
import { attributesAppend, splitImmediateAndDelayedAttributes } from 'cognito-local/lib/services/userPoolService';
import { Targets } from 'cognito-local/lib/targets/targets';
import type { AdminUpdateUserAttributesRequest, UpdateUserAttributesRequest } from '@aws-sdk/client-cognito-identity-provider';

type TargetFactory = (services: any) => (ctx: any, req: any) => Promise<any>;
const targets = Targets as unknown as Record<string, TargetFactory>;

/** The access token's client id, as cognito-local's own targets read it (the token's signature is checked by its router). */
function clientIdOf(accessToken: string | undefined): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from((accessToken ?? '').split('.')[1] ?? '', 'base64url').toString('utf8')) as { client_id?: string };
    return payload.client_id;
  } catch {
    return undefined;
  }
}

const updateUserAttributes = targets.UpdateUserAttributes!;
targets.UpdateUserAttributes = (services) => {
  const original = updateUserAttributes(services);
  return async (ctx, req: UpdateUserAttributesRequest) => {
    const clientId = clientIdOf(req.AccessToken);
    const client = clientId ? await services.cognito.getAppClient(ctx, clientId) : null;
    const writable: string[] | undefined = client?.WriteAttributes;
    // No list: the client may write every standard attribute (Cognito's default).
    if (writable && writable.length > 0 && (req.UserAttributes ?? []).some((a) => !writable.includes(a.Name ?? ''))) {
      throw new NotAuthorizedError('A client attempted to write unauthorized attribute');
    }
    return original(ctx, req);
  };
};

const adminUpdateUserAttributes = targets.AdminUpdateUserAttributes!;
targets.AdminUpdateUserAttributes = (services) => {
  const original = adminUpdateUserAttributes(services);
  return async (ctx, req: AdminUpdateUserAttributesRequest) => {
    const userPool = await services.cognito.getUserPool(ctx, req.UserPoolId);
    const requireVerification: string[] = userPool.options.UserAttributeUpdateSettings?.AttributesRequireVerificationBeforeUpdate ?? [];
    const attributes = req.UserAttributes ?? [];
    // Setting `<attr>_verified: true` with the value is the documented way to skip the code: no delay then.
    const delays = (name: string) => requireVerification.includes(name) && !attributes.some((a) => a.Name === `${name}_verified` && a.Value === 'true');
    if (!attributes.some((a) => a.Name && delays(a.Name))) return original(ctx, req);

    const isDelayed = (a: { Name?: string }) => !!a.Name && delays(a.Name);
    const [, pending] = splitImmediateAndDelayedAttributes(attributes.filter(isDelayed) as never, requireVerification);
    const immediate = attributes.filter((a) => !isDelayed(a));
    if (immediate.length > 0) await original(ctx, { ...req, UserAttributes: immediate });
    const user = await userPool.getUserByUsername(ctx, req.Username);
    if (!user) throw new NotAuthorizedError();
    const code: string = services.otp();
    const updated = {
      ...user,
      Attributes: attributesAppend(user.Attributes),
      UserLastModifiedDate: services.clock.get(),
      UnverifiedAttributeChanges: pending,
      AttributeVerificationCode: code,
    };
    await userPool.saveUser(ctx, updated);
    const delivery = selectAppropriateDeliveryMethod(userPool.options.AutoVerifiedAttributes ?? [], updated);
    if (delivery) await services.messages.deliver(ctx, 'UpdateUserAttribute', null, userPool.options.Id, updated, code, req.ClientMetadata, delivery);
    return {};
  };
};

require('cognito-local/lib/bin/start.js');
