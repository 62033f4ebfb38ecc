/**
 * Roles. viewer reads; operator also sends commands and dispatches; compliance-officer also
 * toggles compliance modules and reads the audit log; admin may do everything, including token
 * management. A role "allows" a required role when it is the same or ranks above it, except that
 * operator and compliance-officer are separate duties (neither includes the other).
 */
export type Role = 'viewer' | 'operator' | 'compliance-officer' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'compliance-officer', 'admin'];

const INCLUDES: Record<Role, readonly Role[]> = {
  viewer: ['viewer'],
  operator: ['viewer', 'operator'],
  'compliance-officer': ['viewer', 'compliance-officer'],
  admin: ['viewer', 'operator', 'compliance-officer', 'admin'],
};

/** Whether a principal holding `held` may do what requires `required`. */
export function roleAllows(held: Role, required: Role): boolean {
  return INCLUDES[held].includes(required);
}

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}

/** Who made a request. */
export interface Principal {
  /** Token id, `anonymous`, or `local` for the CLI on the machine itself. */
  id: string;
  name: string;
  role: Role;
}
