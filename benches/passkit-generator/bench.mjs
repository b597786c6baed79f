// The comparison point of `benches/passes.rs`: the same storeCard pass as encarte's `render()`,
// made with passkit-generator from the same certificates and images, one pass after another in
// this one process. Started by the Rust bench; it can also be run by hand:
//
//   node bench.mjs --certs DIR --design ../../templates/passes/default [--passes 500] [--rounds 5]
//                  [--warmup 50] [--out FILE.pkpass]
//
// DIR holds pass.pem, pass.key and wwdr.pem. Prints one JSON line on stdout: the rounds, each with
// its wall time, the CPU time of the process (user + system, V8's helper threads included) and the
// median time of one pass.

import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PKPass } from "passkit-generator";

const args = parseArgs(process.argv.slice(2));
const passes = positive(args.passes ?? "500", "--passes");
const rounds = positive(args.rounds ?? "5", "--rounds");
const warmup = positive(args.warmup ?? "50", "--warmup");
if (!args.certs || !args.design) {
	fail("usage: node bench.mjs --certs DIR --design DIR [--passes N] [--rounds N] [--warmup N] [--out FILE]");
}

const PASS_TYPE_ID = args["pass-type-id"] ?? "pass.dev.encarte.loyalty";
const TEAM_ID = args["team-id"] ?? "DEVTEAM001";
const WEB_SERVICE_URL = "https://loyalty.example.com/wallet/apple";

const certificates = {
	wwdr: readFileSync(join(args.certs, "wwdr.pem")),
	signerCert: readFileSync(join(args.certs, "pass.pem")),
	signerKey: readFileSync(join(args.certs, "pass.key")),
};
const design = JSON.parse(readFileSync(join(args.design, "design.json"), "utf8"));

// The model, read once, as the library's README advises for servers: the images and a pass.json
// holding what every pass shares. Each pass is then a `PKPass.from(model, overrides)`.
const model = {};
for (const name of readdirSync(args.design).sort()) {
	if (name.endsWith(".png")) {
		model[name] = readFileSync(join(args.design, name));
	}
}
model["pass.json"] = Buffer.from(
	JSON.stringify({
		formatVersion: 1,
		passTypeIdentifier: PASS_TYPE_ID,
		teamIdentifier: TEAM_ID,
		// As pass.rs: the design's organisation if it names one, else the programme (benches/passes.rs).
		organizationName: design.organization_name ?? "Encarte Coffee",
		foregroundColor: design.foreground_color,
		backgroundColor: design.background_color,
		labelColor: design.label_color,
		storeCard: {},
	}),
);
const template = new PKPass(model, certificates);

// The localisation keys of src/wallet/apple/pass.rs, with their English and French texts.
const STRINGS = [
	["encarte.points.label", "Points", "Points"],
	["encarte.points.changed", "You now have %@ points", "Vous avez maintenant %@ points"],
	["encarte.member.label", "Member", "Membre"],
	["encarte.number.label", "Card number", "Numéro de carte"],
	["encarte.referral.label", "Invite a friend", "Parrainez un ami"],
	["encarte.recent.label", "Recent activity", "Activité récente"],
	["encarte.terms.label", "Terms and conditions", "Conditions générales"],
	["encarte.contact.label", "Contact", "Contact"],
];
const translations = (column, terms) =>
	Object.fromEntries([...STRINGS.map((row) => [row[0], row[column]]), ["encarte.terms.text", terms]]);
const en = translations(1, design.terms.en);
const fr = translations(2, design.terms.fr);

/** The same card data as `pass_input(i)` in benches/passes.rs. */
function card(i) {
	const hex = i.toString(16).padStart(12, "0");
	return {
		serial: `0190f5b2-7c1a-7d3e-9a4b-${hex}`,
		authToken: `3f9c1d2e8a7b4c6d${i.toString(16).padStart(16, "0")}`,
		barcode: `ENC${i.toString().padStart(23, "0")}`,
		displayNumber: `1234 5678 ${(i % 10000).toString().padStart(4, "0")}`,
		balance: (i * 37) % 100000,
		firstName: "Zoé",
		referralLink: `https://loyalty.example.com/r/ZOE${i}`,
		recent: [`2026-11-30  +${i % 50}`, "2026-11-28  -50", "2026-11-21  +12"],
	};
}

/** One signed .pkpass, zipped, as bytes: what `render()` returns. */
async function render(i) {
	const c = card(i);
	const pass = await PKPass.from(template, {
		serialNumber: c.serial,
		authenticationToken: c.authToken,
		webServiceURL: WEB_SERVICE_URL,
		description: "Encarte Coffee loyalty card",
		logoText: "Encarte Coffee",
	});
	pass.primaryFields.push({
		key: "balance",
		label: "encarte.points.label",
		value: c.balance,
		changeMessage: "encarte.points.changed",
		numberStyle: "PKNumberStyleDecimal",
	});
	pass.secondaryFields.push({ key: "member", label: "encarte.member.label", value: c.firstName });
	pass.backFields.push(
		{ key: "number", label: "encarte.number.label", value: c.displayNumber },
		{
			key: "referral",
			label: "encarte.referral.label",
			value: c.referralLink,
			dataDetectorTypes: ["PKDataDetectorTypeLink"],
		},
		{ key: "recent", label: "encarte.recent.label", value: c.recent.join("\n") },
		{ key: "terms", label: "encarte.terms.label", value: "encarte.terms.text" },
		{
			key: "contact",
			label: "encarte.contact.label",
			value: design.contact,
			dataDetectorTypes: ["PKDataDetectorTypePhoneNumber", "PKDataDetectorTypeLink", "PKDataDetectorTypeAddress"],
		},
	);
	pass.setBarcodes({
		format: "PKBarcodeFormatQR",
		message: c.barcode,
		messageEncoding: "iso-8859-1",
		altText: c.displayNumber,
	});
	pass.localize("en", en);
	pass.localize("fr", fr);
	return pass.getAsBuffer();
}

const first = await render(0);
if (args.out) {
	writeFileSync(args.out, first);
}
let bytes = first.length;
for (let i = 1; i <= warmup; i++) {
	bytes += (await render(i)).length;
}

const results = [];
let next = warmup + 1;
for (let r = 0; r < rounds; r++) {
	const times = new Float64Array(passes);
	const cpuStart = process.cpuUsage();
	const wallStart = process.hrtime.bigint();
	for (let k = 0; k < passes; k++) {
		const t = process.hrtime.bigint();
		bytes += (await render(next++)).length;
		times[k] = Number(process.hrtime.bigint() - t) / 1e6;
	}
	const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
	const cpu = process.cpuUsage(cpuStart);
	times.sort();
	results.push({
		passes,
		wall_s: wall,
		cpu_s: (cpu.user + cpu.system) / 1e6,
		median_ms: times[Math.ceil(passes / 2) - 1],
	});
}

const pkg = JSON.parse(readFileSync(new URL("./node_modules/passkit-generator/package.json", import.meta.url), "utf8"));
console.log(
	JSON.stringify({
		library: `passkit-generator ${pkg.version}`,
		node: process.version,
		first_pass_bytes: first.length,
		total_bytes: bytes,
		rounds: results,
	}),
);

function parseArgs(argv) {
	const out = {};
	for (let i = 0; i < argv.length; i += 2) {
		if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
			fail(`unexpected argument ${argv[i]}`);
		}
		out[argv[i].slice(2)] = argv[i + 1];
	}
	return out;
}

function positive(value, name) {
	const n = Number(value);
	if (!Number.isInteger(n) || n <= 0) {
		fail(`${name} must be a positive integer, not ${value}`);
	}
	return n;
}

function fail(message) {
	console.error(message);
	process.exit(2);
}
