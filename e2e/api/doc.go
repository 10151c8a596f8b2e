// Package api is the end-to-end suite of the public Go API (gwlblab): a
// lab brought up, driven and read through it alone, as a user's own suite
// would. It needs root and skips otherwise.
package api
