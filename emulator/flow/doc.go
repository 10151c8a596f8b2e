// Package flow is the GWLB node's flow table (spec §3): it turns a
// packet's flow key into a direction-independent key according to the
// target group's stickiness mode, hashes it symmetrically for target
// selection and the GENEVE outer source port, and remembers per flow the
// chosen target, the cookie, the outer port, counters and the idle timer.
//
// It owns flow identity and lifetime, not policy: which packets may create a
// flow (TCP SYN only), which target the hash picks among the healthy ones,
// and whether to send a TCP RST on expiry are the caller's decisions, made
// with what [Table.Lookup], [Table.Insert] and the [Table.Expire] callback
// report. Time is always an argument: a monotonic clock reading as a
// time.Duration since an origin the owner picks, so tests never sleep and a
// wall-clock step cannot expire every flow at once.
//
// Trade-offs. Keys are packed into a fixed, pointer-free struct (both
// endpoints in canonical order), so both directions of a flow hit the same
// map entry and the hash is symmetric by construction, at the cost of
// normalising every packet's key (two 16-byte copies and a compare). The
// table is safe for concurrent use through a fixed number of mutex-guarded
// shards picked by the flow hash: simpler than a lock-free map, and one GWLB
// node's workers rarely contend on the same shard. Entries live in a
// per-shard slab indexed by the map, so the maps hold no pointers for the
// garbage collector to scan, and lookups, touches and steady-state inserts
// do not allocate; expiry is a linear sweep of each slab, which is cheap
// next to the idle timeouts (minutes) at which it needs to run.
//
// A [Limit] shared by several tables caps the flows they hold together (a
// GWLB node's tables, one per endpoint): Insert refuses a new key with
// [ErrFull] and never touches existing flows, and room comes back when a
// flow is removed. [Table.Walk] copies flows out a chunk at a time into the
// caller's buffer and calls back with no lock held, so a listing of any
// size costs one buffer and never stalls the data path for long.
package flow
