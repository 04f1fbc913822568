// Command ebpfvm loads, inspects and runs eBPF programs without writing Go.
// Run "ebpfvm help" for the commands; DESIGN.md's "Command line" section is
// the contract its flags, output and exit codes follow.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Exit codes shared by all commands.
const (
	exitOK       = 0
	exitFailure  = 1 // the program faulted, ran out of budget, or was rejected
	exitBadInput = 2 // bad input or usage
)

// command is one subcommand. Each lives in its own file and registers itself
// from an init function, so that adding one touches no other file.
type command struct {
	name    string
	args    string // synopsis after the name, e.g. "[-o OUT] FILE"
	summary string // one line for the command list
	help    string // the rest of "ebpfvm help NAME"
	// run executes the command. An error it returns is printed to stderr
	// and ends the process with exit code 2 (bad input), unless it is an
	// *exitError naming another code.
	run func(e *env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("ebpfvm: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// env is what a command may touch of the outside world, so that tests can
// run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// exitError ends a command with a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError reports wrong arguments; the command's synopsis is printed
// after it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
}

// run executes the command line args and returns the exit code.
func run(args []string, e *env) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitBadInput
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "ebpfvm: unknown command %q\n\n", name)
		printUsage(e.stderr)
		return exitBadInput
	}
	err := c.run(e, args[1:])
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(e.stdout, c)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "ebpfvm %s: %v\n", c.name, err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "usage: ebpfvm %s %s\n", c.name, c.args)
		return exitBadInput
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitBadInput
}

// newFlags returns a flag set whose errors come back as usage errors
// rather than being printed by the flag package.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args allowing flags after positional arguments
// ("ebpfvm asm prog.s -o prog.bin"), which the flag package alone does
// not, and returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: ebpfvm COMMAND [ARGUMENTS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run \"ebpfvm help COMMAND\" for a command's arguments.")
	fmt.Fprintln(w, "Exit status: 0 success, 1 the program failed or was rejected, 2 bad input or usage.")
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: ebpfvm %s %s\n\n%s\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
}

func init() {
	register(&command{
		name:    "help",
		args:    "[COMMAND]",
		summary: "show the commands, or how to use one",
		run: func(e *env, args []string) error {
			switch len(args) {
			case 0:
				printUsage(e.stdout)
				fmt.Fprintf(e.stdout, "\n%s\n", inputHelp)
				return nil
			case 1:
				c, ok := commands[args[0]]
				if !ok {
					return usagef("unknown command %q", args[0])
				}
				printCommandHelp(e.stdout, c)
				return nil
			}
			return usagef("too many arguments")
		},
	})
}
