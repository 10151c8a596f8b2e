// Package hardening is the e2e suite of what a careless or unlucky user can
// do to the labs on a machine: a typo in a lab name, a name that starts like
// another lab's, two `up`s of one name at once, commands run without root,
// programs that are not there. Each spec brings up labs of its own under
// random names and checks that nothing of another lab is touched.
package hardening
