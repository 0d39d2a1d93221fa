import { cognitoSection, loadConfig } from '../config';
import { perProcess } from './process';

/** The pool, its app clients and the local endpoint override. */
export const cognitoConfig = perProcess(() => loadConfig({ cognito: cognitoSection }).cognito);

/** The app clients whose tokens the /me routes accept (API Gateway's authorizer checks only the pool). */
export const cognitoClientIds = () => cognitoConfig().COGNITO_CLIENT_IDS;
