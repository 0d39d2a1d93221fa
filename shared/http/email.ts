import { z } from 'zod';
import { normaliseEmail } from '../domain/entitlement';

/**
 * An email as callers send it: trimmed and lower-cased first (the contract's
 * rule for every lookup and write), then validated; at most 254 characters,
 * the longest address SMTP can carry.
 */
export const emailField = z.string().transform(normaliseEmail).pipe(z.email().max(254));
