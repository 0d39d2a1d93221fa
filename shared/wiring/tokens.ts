import { DynamoTokenStore, tokenTables } from '../adapters/dynamodb/token-store';
import { StripeTokenCredits } from '../adapters/dynamodb/token-credits';
import { access, catalogue } from './access';
import { aws, tables } from './aws';
import { perProcess } from './process';

/** Balances, ledger and idempotency records, with allowances from the one access decision. */
export const tokenStore = perProcess(() => new DynamoTokenStore(aws().dynamo.doc, { tables: tokenTables(tables()), catalogue: catalogue(), policy: access().policy, decide: access().decide }));

/** Top-ups, refunds and disputes of purchased tokens, through the same token store. */
export const tokenCredits = perProcess(() => new StripeTokenCredits(tokenStore()));
