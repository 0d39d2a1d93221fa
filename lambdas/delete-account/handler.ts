import { cognitoClientIds } from '../../shared/wiring/cognito';
import { deletion } from '../../shared/wiring/deletion';
import { asCaller, httpHandler, type HttpHandler } from '../../shared/http/handler';
import { jsonResponse } from '../../shared/http/response';
import { describeDeletion } from '../../shared/use-cases/delete-account';
import { requestAccountDeletion, type DeletionWorkDeps } from '../../shared/use-cases/deletion-work';

export interface DeleteAccountHandlerDeps {
  deletion: DeletionWorkDeps;
  cognitoClientIds: readonly string[];
}

/**
 * DELETE /me/account: 200 when everything is gone, 202 while the worker
 * finishes it. A failed step is a 503 or 500 by the error policy (call again).
 */
export function createDeleteAccountHandler(deps: DeleteAccountHandlerDeps): HttpHandler {
  return httpHandler(asCaller(deps.cognitoClientIds, async (caller, _event, context) => {
    // The access token's `username` is the pool's user name (the sub for email sign-in pools).
    const username = caller.username ?? caller.userId;
    const progress = await requestAccountDeletion(deps.deletion, { userId: caller.userId, username }, context?.getRemainingTimeInMillis?.());
    return jsonResponse(progress.state === 'deleted' ? 200 : 202, describeDeletion(progress));
  }));
}

export const handler = createDeleteAccountHandler({ deletion: deletion(), cognitoClientIds: cognitoClientIds() });
