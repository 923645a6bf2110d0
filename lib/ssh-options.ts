/**
 * What the stack config may hand to ssh: the host the Docker provider dials and the extra
 * arguments it passes (`sshOpts`). ssh runs on the machine that runs Pulumi, so neither may
 * carry an option that runs a command there.
 */
import { isIPv4, isIPv6 } from "node:net";
import { Problems, lookup, show } from "./checks";
import type { Reader } from "./config-reader";

/**
 * The server's host: a DNS name (labels of letters, digits and "-", none starting with "-"), an
 * IPv4 address or an IPv6 address in brackets. The Docker provider passes it to ssh as the
 * destination; one starting with "-" would be read as an option (the ssh command line is
 * `ssh [options] destination`, OpenSSH ssh.c getopt loop).
 */
export function hostOf(r: Reader): string {
  const what = "a host name or IP address";
  const host = r.str("host", { what, pattern: /^[A-Za-z0-9.:[\]-]+$/ });
  if (!host) return host;
  const name =
    /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
  const v6 = /^\[(.*)\]$/.exec(host);
  if (name.test(host) || isIPv4(host) || (v6 && isIPv6(v6[1]!))) return host;
  r.refuse("host", what, host);
  return "";
}

/**
 * ssh_config keywords that run a command, load code or read more config, refused in `sshOpts`
 * (OpenSSH ssh_config(5): Match exec, Include, KnownHostsCommand, LocalCommand with
 * PermitLocalCommand, PKCS11Provider, ProxyCommand, RemoteCommand, SecurityKeyProvider), and
 * ssh options that do the same (ssh(1): -F another config file, -I a PKCS#11 library). The
 * Docker provider runs `ssh <sshOpts> … <host> docker system dial-stdio` on the machine that
 * runs Pulumi (kreuzwerker/terraform-provider-docker v4.5.0 internal/provider/config.go:168,
 * docker/cli connhelper), so any of them would run a command of the config's author there.
 */
const SSH_COMMAND_KEYWORDS = [
  "include",
  "knownhostscommand",
  "localcommand",
  "match",
  "permitlocalcommand",
  "pkcs11provider",
  "proxycommand",
  "remotecommand",
  "securitykeyprovider",
];
/** ssh's options, as its getopt string has them: those before ":" take an argument (ssh.c:704-705). */
const SSH_FLAGS = "1246ACGKMNTVXYZafgknqstvxy";
const SSH_FLAGS_WITH_ARG = "BDEFIJLOPQRSWbceilmopw";
const SSH_REFUSED_FLAGS: Record<string, string> = lookup({
  F: "reads another ssh config file, which may run commands",
  I: "loads a PKCS#11 library into ssh",
});

export function sshOptsOf(r: Reader, p: Problems): string[] {
  const before = p.lines.length;
  const opts = r.strArray("sshOpts");
  // Not a list of strings: reported as such; where each argument would go is unknowable.
  if (p.lines.length > before) return opts;
  const bad = (i: number, why: string) =>
    p.add(`sshOpts[${i}]`, `${show(opts[i])} ${why}: remove it`);
  for (let i = 0; i < opts.length; i++) {
    const arg = opts[i]!;
    if (!arg.startsWith("-") || arg === "-" || arg === "--") {
      bad(i, "is not an option: ssh would take it as the destination host (or end its options)");
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!;
      if (SSH_FLAGS.includes(flag)) continue;
      if (!SSH_FLAGS_WITH_ARG.includes(flag)) {
        bad(i, `has -${flag}, which is not an ssh option`);
        break;
      }
      const inline = arg.slice(j + 1);
      const value = inline || opts[i + 1];
      const at = inline ? i : i + 1;
      if (!inline) i++;
      if (value === undefined) bad(at - 1, `needs a value after -${flag}`);
      else if (SSH_REFUSED_FLAGS[flag]) bad(at, `(-${flag}) ${SSH_REFUSED_FLAGS[flag]}`);
      else if (flag === "o") {
        // The keyword as ssh reads it: a leading quote opens a quoted word (openssh-portable
        // misc.c strdelim_internal), "=" or whitespace ends it.
        const keyword = value
          .trim()
          .replace(/^"/, "")
          .split(/[\s="]/)[0]!
          .toLowerCase();
        if (SSH_COMMAND_KEYWORDS.includes(keyword))
          bad(
            at,
            `sets ssh's ${keyword} option, which runs a command or loads code on the machine running Pulumi`,
          );
      }
      break;
    }
  }
  return opts;
}
