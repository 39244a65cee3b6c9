export { base64UrlNoPad, makeUniqueId, sha1, sha224, sha256, toHex, utf8 } from './sha.js';
