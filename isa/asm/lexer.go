package asm

import (
	"strconv"
	"strings"
)

type tokenKind uint8

const (
	tokEOF   tokenKind = iota
	tokIdent           // names, mnemonics, registers ("r1", "w2", "%r3")
	tokNum             // an unsigned decimal or 0x-prefixed hexadecimal number
	tokPunct           // operators and punctuation
)

type token struct {
	kind tokenKind
	text string
	col  int // 1-based byte column in the line
}

// puncts lists the operators longest first, so that the lexer can take the
// first one that matches.
var puncts = []string{
	"s>>=", "<<=", ">>=", "s/=", "s%=", "s>=", "s<=",
	"+=", "-=", "*=", "/=", "|=", "&=", "%=", "^=", "==", "!=", ">=", "<=", "s>", "s<",
	"=", ">", "<", "&", "(", ")", "*", "[", "]", ",", "+", "-", ":",
}

// stripComment cuts a line at the first comment marker: "#", "//" or ";".
func stripComment(line string) string {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	if i := strings.Index(line, "//"); i >= 0 {
		line = line[:i]
	}
	return line
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

// lex splits a comment-free line into tokens. It returns the column of the
// first character it cannot make sense of, or 0.
func lex(line string) ([]token, int) {
	var toks []token
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			i++
		// "s>", "s/=" and friends are signed operators, not the name "s".
		case c == 's' && i+1 < len(line) && strings.IndexByte("<>/%", line[i+1]) >= 0 && matchPunct(line[i:]) != "":
			p := matchPunct(line[i:])
			toks = append(toks, token{tokPunct, p, i + 1})
			i += len(p)
		case isIdentStart(c) || c == '%' && i+1 < len(line) && isIdentStart(line[i+1]):
			j := i + 1
			for j < len(line) && isIdentChar(line[j]) {
				j++
			}
			toks = append(toks, token{tokIdent, line[i:j], i + 1})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(line) && isIdentChar(line[j]) {
				j++
			}
			toks = append(toks, token{tokNum, line[i:j], i + 1})
			i = j
		default:
			p := matchPunct(line[i:])
			if p == "" {
				return toks, i + 1
			}
			toks = append(toks, token{tokPunct, p, i + 1})
			i += len(p)
		}
	}
	return toks, 0
}

func matchPunct(s string) string {
	for _, p := range puncts {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return ""
}

// parseUint parses the text of a number token: decimal, or hexadecimal with
// a 0x prefix. It reports whether the number was hexadecimal.
func parseUint(text string) (v uint64, hex bool, err error) {
	if len(text) > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') {
		v, err = strconv.ParseUint(text[2:], 16, 64)
		return v, true, err
	}
	v, err = strconv.ParseUint(text, 10, 64)
	return v, false, err
}
