// Built-in secret patterns. They win over every ignore file: a file that
// matches never enters the context, even when .rwkvxignore re-includes it.

const SECRET_NAMES: RegExp[] = [
  /^\.env(\..*)?$/i,                       // .env, .env.local, .env.production, …
  /^id_(rsa|dsa|ecdsa|ed25519)$/,          // ssh private keys (the .pub halves are fine)
  /\.(pem|key|p12|pfx|jks|keystore|kdbx|ppk|asc|gpg)$/i,
  /^\.(npmrc|pypirc|netrc|pgpass|htpasswd|git-credentials|dockercfg)$/i,
  /^_netrc$/i,
  /^credentials(\..*)?$/i,                 // credentials, credentials.json, …
  /(^|[-_.])credentials?[-_.].*\.(json|ya?ml|xml|ini|txt)$/i,
  /^client_secrets?(\..*)?$/i,
  /^service[-_]?account.*\.json$/i,
  /^secrets?\.(json|ya?ml|toml|ini|env|txt|xml)$/i,
  /\.(secret|secrets)$/i,
  /\.tfstate(\.backup)?$/i,
  /\.tfvars$/i,
];

/** Folder + name pairs: .aws/credentials, .docker/config.json, .ssh/* */
const SECRET_PATHS: RegExp[] = [
  /(^|\/)\.aws\/(credentials|config)$/,
  /(^|\/)\.docker\/config\.json$/,
  /(^|\/)\.ssh\//,
  /(^|\/)\.gnupg\//,
];

const ANY_SECRET_NAME = new RegExp(SECRET_NAMES.map((r) => `(?:${r.source})`).join('|'), 'i');
const ANY_SECRET_PATH = new RegExp(SECRET_PATHS.map((r) => `(?:${r.source})`).join('|'));

export function secretByName(rel: string): string | undefined {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  // One combined test first: nearly every file passes it.
  if (!ANY_SECRET_NAME.test(name) && !ANY_SECRET_PATH.test(rel)) return undefined;
  for (const re of SECRET_NAMES) if (re.test(name)) return `name matches ${re.source}`;
  for (const re of SECRET_PATHS) if (re.test(rel)) return `path matches ${re.source}`;
  return undefined;
}

const PRIVATE_KEY_BLOCK = /-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----/;

/** A private key pasted into any file keeps the whole file out. */
export function secretByContent(text: string): string | undefined {
  return PRIVATE_KEY_BLOCK.test(text) ? 'contains a private key block' : undefined;
}
