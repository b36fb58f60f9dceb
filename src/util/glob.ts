/**
 * The one glob grammar of the delivery config (route `tags:` / `rules:`, suppression `rules:`, the config's check
 * of `rules:` patterns against the loaded rules): `*` any run of characters (`:` included), `?` one character;
 * the rest literal, case-sensitive.
 */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
