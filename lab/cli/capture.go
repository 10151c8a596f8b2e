package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newCaptureCmd(env Env) *cobra.Command {
	var (
		ref      = labRef{env: env}
		file     string
		count    int
		duration time.Duration
	)
	cmd := &cobra.Command{
		Use:   "capture [--name LAB] NODE -w FILE [-c COUNT] [--duration D]",
		Short: "Capture a node's port as the emulator sees it, as pcap",
		Long: `Capture every frame a node sends and receives on its eth0, on the emulator's
side of the wire, and write them as pcap: to FILE, or with -w - to standard
output for another tool (gwlb-lab capture fw-1 -w - | tcpdump -n -r -). No
capture tool is needed inside the node. Stops after COUNT frames, after the
duration, or on Ctrl-C.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if file == "" {
				return errors.New("say where the pcap goes: -w FILE, or -w - for standard output")
			}
			if file == "-" {
				if f, ok := out.(*os.File); ok && isTerminal(f) {
					return errors.New("pcap is binary: write it with -w FILE, or pipe -w - into a tool such as tcpdump -r -")
				}
			}
			// The lab first: a bad --name must not leave an empty file.
			c, n, err := ref.control(cmd)
			if err != nil {
				return err
			}
			if file != "-" {
				f, err := os.Create(file)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			q := url.Values{"node": {args[0]}}
			if count > 0 {
				q.Set("count", strconv.Itoa(count))
			}
			if duration > 0 {
				q.Set("seconds", strconv.FormatFloat(duration.Seconds(), 'f', -1, 64))
			}
			body, err := c.Stream(cmd.Context(), "/v1/capture?"+q.Encode())
			if err != nil {
				return err
			}
			defer body.Close()
			// Copy frame by frame, so a file is complete up to the last
			// frame whatever ends the capture.
			r, err := pcap.NewReader(body)
			if err != nil {
				return fmt.Errorf("capture: %w", err)
			}
			w, err := pcap.NewWriter(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "capturing on %s (lab %s)\n", args[0], n)
			got := 0
			for {
				p, err := r.Next()
				if err != nil {
					if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || cmd.Context().Err() != nil {
						break
					}
					return fmt.Errorf("capture: %w", err)
				}
				if err := w.WritePacket(p.Time, p.Data); err != nil {
					return err
				}
				got++
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d frames captured\n", got)
			return nil
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().StringVarP(&file, "write", "w", "", "pcap file to write, or - for standard output")
	cmd.Flags().IntVarP(&count, "count", "c", 0, "stop after this many frames (0: no limit)")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (0: no limit)")
	return cmd
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
