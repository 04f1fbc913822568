package asm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ebpfvm/ebpfvm/isa"
)

// parser reads the tokens of one statement.
type parser struct {
	a    *assembler
	line int
	toks []token
	pos  int
	eol  int // column reported for a missing token when toks is empty
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tokEOF, col: p.endCol()}
}

// peekAt looks n tokens ahead.
func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return token{kind: tokEOF, col: p.endCol()}
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) endCol() int {
	if len(p.toks) == 0 {
		return max(p.eol, 1)
	}
	last := p.toks[len(p.toks)-1]
	return last.col + len(last.text)
}

func (p *parser) errf(t token, format string, args ...any) error {
	return p.a.errorf(p.line, t.col, format, args...)
}

// describe names a token for error messages.
func describe(t token) string {
	if t.kind == tokEOF {
		return "end of line"
	}
	return strconv.Quote(t.text)
}

func (p *parser) expect(text string) error {
	t := p.next()
	if t.text != text || t.kind == tokEOF {
		return p.errf(t, "expected %q, found %s", text, describe(t))
	}
	return nil
}

// accept consumes the next token if its text is text.
func (p *parser) accept(text string) bool {
	if t := p.peek(); t.kind != tokEOF && t.text == text {
		p.pos++
		return true
	}
	return false
}

func (p *parser) end() error {
	if t := p.peek(); t.kind != tokEOF {
		return p.errf(t, "unexpected %s after the instruction", describe(t))
	}
	return nil
}

// parseRegName parses "rN", "wN" or "%rN". It returns the register number
// (possibly above 10, which callers reject with a clear message), whether it
// names a 32-bit subregister, and whether the text is a register name at all.
func parseRegName(s string) (n int, w32 bool, ok bool) {
	s = strings.TrimPrefix(s, "%")
	if len(s) < 2 || (s[0] != 'r' && s[0] != 'w') {
		return 0, false, false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	if len(s) > 3 || len(s) > 2 && s[1] == '0' {
		return 99, s[0] == 'w', true // absurd but register-shaped: r0123, r999
	}
	n, _ = strconv.Atoi(s[1:])
	return n, s[0] == 'w', true
}

func looksLikeRegister(s string) bool {
	_, _, ok := parseRegName(s)
	return ok
}

// reg parses an LLVM register ("rN" or "wN").
func (p *parser) reg() (isa.Register, bool, error) {
	t := p.next()
	n, w32, ok := parseRegName(t.text)
	if t.kind != tokIdent || !ok || strings.HasPrefix(t.text, "%") {
		return 0, false, p.errf(t, "expected a register (r0-r10 or w0-w10), found %s", describe(t))
	}
	if n > int(isa.MaxRegister) {
		return 0, false, p.errf(t, "invalid register %s: registers are r0 to r10", t.text)
	}
	return isa.Register(n), w32, nil
}

// reg64 parses an LLVM 64-bit register "rN", as pointers and 64-bit
// operands must be.
func (p *parser) reg64() (isa.Register, error) {
	t := p.peek()
	r, w32, err := p.reg()
	if err == nil && w32 {
		err = p.errf(t, "expected a 64-bit register r0-r10, found %s", t.text)
	}
	return r, err
}

// regWidth parses an LLVM register that must have the width w32.
func (p *parser) regWidth(w32 bool) (isa.Register, error) {
	t := p.peek()
	r, w, err := p.reg()
	if err == nil && w != w32 {
		want := "64-bit rN"
		if w32 {
			want = "32-bit wN"
		}
		err = p.errf(t, "register %s has the wrong width: expected a %s register", t.text, want)
	}
	return r, err
}

// sameReg parses an LLVM register that must repeat an earlier one.
func (p *parser) sameReg(want isa.Register, w32 bool) error {
	t := p.peek()
	r, err := p.regWidth(w32)
	if err == nil && r != want {
		err = p.errf(t, "register %s must be the same as %s", t.text, regText(want, w32))
	}
	return err
}

func regText(r isa.Register, w32 bool) string {
	if w32 {
		return fmt.Sprintf("w%d", r)
	}
	return r.String()
}

// number reads an optionally signed number. It returns the token of the
// number (for error positions), the sign, the magnitude and whether it was
// hexadecimal.
func (p *parser) number() (t token, neg bool, mag uint64, hex bool, err error) {
	t = p.peek()
	if p.accept("-") {
		neg = true
	} else {
		p.accept("+")
	}
	nt := p.next()
	if nt.kind != tokNum {
		return t, false, 0, false, p.errf(nt, "expected a number, found %s", describe(nt))
	}
	mag, hex, err = parseUint(nt.text)
	if err != nil {
		return t, false, 0, false, p.errf(nt, "invalid number %q", nt.text)
	}
	return t, neg, mag, hex, nil
}

// isNumberNext reports whether a number (possibly signed) comes next.
func (p *parser) isNumberNext() bool {
	t := p.peek()
	if t.text == "-" || t.text == "+" {
		t = p.peekAt(1)
	}
	return t.kind == tokNum
}

// imm32 reads a 32-bit immediate: a signed 32-bit decimal number, or a
// hexadecimal number whose magnitude fits 32 bits (0xffffffff is -1).
func (p *parser) imm32() (int64, error) {
	t, neg, mag, hex, err := p.number()
	if err != nil {
		return 0, err
	}
	v, ok := fit32(neg, mag, hex)
	if !ok {
		return 0, p.errf(t, "immediate %s does not fit in 32 bits", numText(neg, mag, hex))
	}
	return v, nil
}

func fit32(neg bool, mag uint64, hex bool) (int64, bool) {
	switch {
	case neg && mag <= 1<<31:
		return -int64(mag), true
	case neg:
		return 0, false
	case mag <= 1<<31-1 || hex && mag <= 1<<32-1:
		return int64(int32(uint32(mag))), true
	}
	return 0, false
}

func numText(neg bool, mag uint64, hex bool) string {
	s := strconv.FormatUint(mag, 10)
	if hex {
		s = "0x" + strconv.FormatUint(mag, 16)
	}
	if neg {
		s = "-" + s
	}
	return s
}

// imm64 reads a 64-bit immediate: any number from -2^63 to 2^64-1, kept as
// its two's complement bit pattern.
func (p *parser) imm64() (int64, error) {
	t, neg, mag, hex, err := p.number()
	if err != nil {
		return 0, err
	}
	if neg {
		if mag > 1<<63 {
			return 0, p.errf(t, "immediate %s does not fit in 64 bits", numText(neg, mag, hex))
		}
		return -int64(mag), nil
	}
	return int64(mag), nil
}

// small reads a signed number within [lo, hi], for fields narrower than 32
// bits.
func (p *parser) small(what string, lo, hi int64) (int64, error) {
	t, neg, mag, hex, err := p.number()
	if err != nil {
		return 0, err
	}
	v := int64(mag)
	if neg {
		v = -v
	}
	if mag > 1<<62 || v < lo || v > hi {
		return 0, p.errf(t, "%s %s out of range [%d, %d]", what, numText(neg, mag, hex), lo, hi)
	}
	return v, nil
}

// offset16 reads a signed 16-bit offset.
func (p *parser) offset16() (int16, error) {
	v, err := p.small("offset", -1<<15, 1<<15-1)
	return int16(v), err
}

// target reads a jump target: a label, or a slot offset relative to the next
// instruction ("+2", "-3", "0"). For a label it fills it.label and it.fix;
// for a number it returns the value, checked against the field's width.
func (p *parser) target(it *item, fix fixup) (int64, error) {
	t := p.peek()
	if t.kind == tokIdent {
		p.pos++
		if looksLikeRegister(t.text) {
			return 0, p.errf(t, "expected a label or an offset, found register %s", t.text)
		}
		it.label, it.labelCol, it.fix = t.text, t.col, fix
		return 0, nil
	}
	if !p.isNumberNext() {
		return 0, p.errf(t, "expected a label or an offset, found %s", describe(t))
	}
	if fix == fixOffset {
		return p.small("jump offset", -1<<15, 1<<15-1)
	}
	return p.small("offset", -1<<31, 1<<31-1)
}
