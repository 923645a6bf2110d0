/**
 * Syncthing: a stable device identity derived from a secret seed, and the config.xml that
 * declares every device and folder, so nothing has to be accepted by hand.
 */
import { X509CertificateGenerator, cryptoProvider } from "@peculiar/x509";
import { createHash, createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import { byText } from "../lib/order";

cryptoProvider.set(webcrypto as unknown as Parameters<typeof cryptoProvider.set>[0]);

/** Paths inside the Syncthing container. */
export const SYNCTHING_PATHS = {
  config: "/etc/syncthing",
  data: "/var/syncthing",
} as const;

export interface SyncthingIdentity {
  certPem: string;
  keyPem: string;
  deviceId: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * The device certificate, key and ID of a server, derived from a 32-byte seed (base64).
 * Ed25519 signatures are deterministic, so the same seed always gives the same certificate
 * and device ID: the identity is as stable as the seed in Pulumi state.
 */
export async function syncthingIdentity(seedBase64: string): Promise<SyncthingIdentity> {
  const seed = Buffer.from(seedBase64, "base64");
  if (seed.length !== 32) throw new Error(`syncthing seed must be 32 bytes, got ${seed.length}`);
  const pkcs8 = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
  const keyObject = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" });
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const publicKey = await subtle.importKey("spki", spki, { name: "Ed25519" }, true, ["verify"]);
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash("sha256")
      .update(seed)
      .digest("hex")
      .slice(0, 16)
      .replace(/^[89a-f]/, "1"),
    name: "CN=syncthing, O=Syncthing, OU=Automatically Generated",
    notBefore: new Date("2025-01-01T00:00:00Z"),
    notAfter: new Date("2125-01-01T00:00:00Z"),
    keys: { privateKey, publicKey },
    signingAlgorithm: { name: "Ed25519" },
  });
  const der = Buffer.from(cert.rawData);
  return {
    certPem: cert.toString("pem") + "\n",
    keyPem: keyObject.export({ format: "pem", type: "pkcs8" }).toString(),
    deviceId: deviceIdFromCert(der),
  };
}

/** Syncthing's device ID: SHA-256 of the certificate, base32, Luhn check characters, groups of 7. */
export function deviceIdFromCert(der: Buffer): string {
  const hash = createHash("sha256").update(der).digest();
  let bits = "";
  for (const byte of hash) bits += byte.toString(2).padStart(8, "0");
  let b32 = "";
  for (let i = 0; i + 5 <= bits.length; i += 5) b32 += B32[parseInt(bits.slice(i, i + 5), 2)];
  if (bits.length % 5)
    b32 += B32[parseInt(bits.slice(bits.length - (bits.length % 5)).padEnd(5, "0"), 2)];
  let luhnified = "";
  for (let i = 0; i < 4; i++) {
    const chunk = b32.slice(i * 13, i * 13 + 13);
    luhnified += chunk + luhn32(chunk);
  }
  return luhnified.match(/.{7}/g)!.join("-");
}

/**
 * Whether `id` is a device ID in Syncthing's canonical form, as `DeviceID.String()` writes it:
 * base32 of the SHA-256, a Luhn check character after each 13, groups of 7 joined by "-"
 * (syncthing v1.29.5 lib/protocol/deviceid.go:68-82, luhnify 169-185), with every check
 * character right (unluhnify, 187-205). Syncthing itself also reads lower case, spaces and
 * old 52-character IDs (UnmarshalText, 114-144); config.xml only ever gets the canonical form.
 */
export function isDeviceId(id: string): boolean {
  if (!/^[A-Z2-7]{7}(-[A-Z2-7]{7}){7}$/.test(id)) return false;
  const plain = id.replaceAll("-", "");
  for (let i = 0; i < 4; i++) {
    const group = plain.slice(i * 14, i * 14 + 14);
    if (luhn32(group.slice(0, 13)) !== group[13]) return false;
  }
  return true;
}

function luhn32(s: string): string {
  let factor = 1;
  let sum = 0;
  for (const ch of s) {
    let addend = factor * B32.indexOf(ch);
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / 32) + (addend % 32);
    sum += addend;
  }
  return B32[(32 - (sum % 32)) % 32]!;
}

/** A peer device. */
export interface SyncthingDevice {
  name: string;
  deviceId: string;
  address: string;
}

/** A folder: this server's repositories (send-only) or a peer's (receive-only, versioned). */
export interface SyncthingFolder {
  id: string;
  label: string;
  path: string;
  type: "sendonly" | "receiveonly";
  /** Names of the devices (other than this one) it is shared with. */
  devices: string[];
  /** Days of versions kept on receive-only folders. */
  versionsMaxAgeDays?: number;
}

export interface SyncthingConfigInput {
  self: { name: string; deviceId: string };
  devices: SyncthingDevice[];
  folders: SyncthingFolder[];
  relays: boolean;
  globalDiscovery: boolean;
  gui: { user: string; passwordBcrypt: string; apiKey: string };
}

/**
 * Text as XML character data or a double-quoted attribute value: the five predefined entities
 * (XML 1.0 §2.4, §3.3.3), and characters XML 1.0 cannot carry at all (§2.2 Char) refused.
 * Every value the file interpolates goes through it, numbers and enums included.
 */
export function xmlEscape(v: string | number | boolean): string {
  const s = String(v);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s))
    throw new Error(`Syncthing config: ${JSON.stringify(s)} holds a character XML cannot carry`);
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
const esc = xmlEscape;

/** A device ID for config.xml: canonical, or the render stops (lib/peers.ts drops bad ones first). */
function deviceId(id: string): string {
  if (!isDeviceId(id))
    throw new Error(`Syncthing config: ${JSON.stringify(id)} is not a Syncthing device ID`);
  return esc(id);
}

/** config.xml. Devices and folders sorted; the file is replaced whenever the declaration changes. */
export function renderSyncthingConfig(c: SyncthingConfigInput): string {
  const devices = [...c.devices].sort((a, b) => byText(a.name, b.name));
  const idOf = new Map(devices.map((d) => [d.name, d.deviceId]));
  const folders = [...c.folders]
    .sort((a, b) => byText(a.id, b.id))
    .map((f) => {
      const shared = [
        c.self.deviceId,
        ...[...f.devices].sort().flatMap((n) => (idOf.has(n) ? [idOf.get(n)!] : [])),
      ];
      const versioning =
        f.type === "receiveonly"
          ? `        <versioning type="staggered">\n` +
            `            <param key="maxAge" val="${esc((f.versionsMaxAgeDays ?? 30) * 86400)}"></param>\n` +
            `            <cleanupIntervalS>3600</cleanupIntervalS>\n` +
            `        </versioning>\n`
          : `        <versioning></versioning>\n`;
      return (
        `    <folder id="${esc(f.id)}" label="${esc(f.label)}" path="${esc(f.path)}" type="${esc(f.type)}" ` +
        `rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="10" ignorePerms="false" autoNormalize="true">\n` +
        `        <filesystemType>basic</filesystemType>\n` +
        shared
          .map((id) => `        <device id="${deviceId(id)}" introducedBy=""></device>\n`)
          .join("") +
        `        <minDiskFree unit="%">1</minDiskFree>\n` +
        versioning +
        `        <ignoreDelete>false</ignoreDelete>\n` +
        `    </folder>\n`
      );
    });
  const device = (name: string, id: string, address: string) =>
    `    <device id="${deviceId(id)}" name="${esc(name)}" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy="">\n` +
    `        <address>${esc(address)}</address>\n` +
    `        <paused>false</paused>\n` +
    `        <autoAcceptFolders>false</autoAcceptFolders>\n` +
    `    </device>\n`;
  return (
    `<configuration version="37">\n` +
    folders.join("") +
    device(c.self.name, c.self.deviceId, "dynamic") +
    devices.map((d) => device(d.name, d.deviceId, d.address)).join("") +
    `    <gui enabled="true" tls="false" debugging="false">\n` +
    `        <address>0.0.0.0:8384</address>\n` +
    `        <user>${esc(c.gui.user)}</user>\n` +
    `        <password>${esc(c.gui.passwordBcrypt)}</password>\n` +
    `        <apikey>${esc(c.gui.apiKey)}</apikey>\n` +
    `        <theme>default</theme>\n` +
    `    </gui>\n` +
    `    <options>\n` +
    `        <listenAddress>tcp://0.0.0.0:22000</listenAddress>\n` +
    `        <listenAddress>quic://0.0.0.0:22000</listenAddress>\n` +
    `        <globalAnnounceEnabled>${esc(c.globalDiscovery)}</globalAnnounceEnabled>\n` +
    `        <localAnnounceEnabled>false</localAnnounceEnabled>\n` +
    `        <relaysEnabled>${esc(c.relays)}</relaysEnabled>\n` +
    `        <natEnabled>false</natEnabled>\n` +
    `        <urAccepted>-1</urAccepted>\n` +
    `        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>\n` +
    `        <crashReportingEnabled>false</crashReportingEnabled>\n` +
    `        <startBrowser>false</startBrowser>\n` +
    `    </options>\n` +
    `</configuration>\n`
  );
}
