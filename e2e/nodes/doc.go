// Package nodes is the e2e suite of nodes added to and removed from a
// running lab (`gwlb-lab node add|remove`, gwlblab's AddNode and
// RemoveNode): an appliance added and registered carries traffic, a removed
// node leaves nothing, down removes added nodes after a crash of node add
// at any step, and fifty adds and removes under traffic leak no port,
// namespace, process, record or emulator memory.
package nodes
