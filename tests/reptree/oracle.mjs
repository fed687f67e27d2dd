// Builds each case's tree with the real RepTree 0.9.0 and prints its state, one JSON
// line per case: {root, error, vertices: [{id, parent, props: [[key, value]...],
// children: [ids in insertion order], sorted: [ids as getChildren sorts them]}],
// stateVector: {peer: [[first, last]...]}}.
// Usage: node oracle.mjs CASES.jsonl OUT.jsonl
// A case is {"ops": [op...]}, op = {"c": counter, "p": peer, "t": target, "m": parent|null}
// for a move, {"c", "p", "t", "k": key, "v": value} for a property ("v" absent = undefined).
import fs from "node:fs";
import { RepTree } from "reptree";

console.error = () => {}; // RepTree logs recoverable oddities; they are part of the behaviour under test.
const [casesPath, outPath] = process.argv.slice(2);
const out = [];
for (const line of fs.readFileSync(casesPath, "utf8").split("\n")) {
  if (!line) continue;
  const { ops } = JSON.parse(line);
  const repOps = ops.map((o) => {
    const id = { counter: o.c, peerId: o.p };
    if ("m" in o) return { id, targetId: o.t, parentId: o.m };
    return { id, targetId: o.t, key: o.k, value: "v" in o ? o.v : undefined, transient: false };
  });
  let tree;
  try {
    tree = new RepTree("oracle-peer", repOps);
  } catch (e) {
    out.push(JSON.stringify({ root: null, error: String(e.message) }));
    continue;
  }
  const state = tree.state;
  const vertices = state.getAllVertices().map((v) => ({
    id: v.id,
    parent: v.parentId,
    props: v.properties.map((p) => [p.key, p.value]),
    children: [...v.children],
    sorted: state.getChildren(v.id).map((c) => c.id),
  }));
  const stateVector = tree.getStateVector();
  out.push(JSON.stringify({ root: tree.root?.id ?? null, error: null, vertices, stateVector }));
  state.dispose();
}
fs.writeFileSync(outPath, out.join("\n") + "\n");
process.exit(0);
