package maps

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// lpmTrie is the kernel's lpm_trie algorithm (kernel/bpf/lpm_trie.c),
// ported node for node so that the trie has the kernel's shape after the
// same operations, and NextKey (a post-order walk) returns keys in the
// kernel's order, bits beyond the prefix length included.
//
// A key is a 4-byte prefix length in host byte order followed by the data,
// read most significant bit first. Real nodes hold a value slot in the
// arena; intermediate nodes only split the trie.
type lpmTrie struct {
	mu        sync.RWMutex
	root      *lpmNode
	n         uint32 // real nodes
	dataSize  int
	maxPrefix uint32
	free      []uint32 // free value slots
}

type lpmNode struct {
	child     [2]*lpmNode
	prefixlen uint32
	im        bool // intermediate: no value
	slot      uint32
	data      []byte
}

func newLPMTrie(m *Map) *lpmTrie {
	t := &lpmTrie{
		dataSize:  int(m.keySize) - 4,
		maxPrefix: (m.keySize - 4) * 8,
		free:      make([]uint32, m.maxEntries),
	}
	for i := range t.free {
		t.free[i] = m.maxEntries - 1 - uint32(i)
	}
	return t
}

func extractBit(data []byte, index uint32) int {
	return int(data[index/8]>>(7-index%8)) & 1
}

// longestPrefixMatch is the number of leading bits that node and key share,
// capped at the shorter of their prefix lengths.
func (t *lpmTrie) longestPrefixMatch(n *lpmNode, prefixlen uint32, data []byte) uint32 {
	limit := min(n.prefixlen, prefixlen)
	var pl uint32
	for i := 0; i < t.dataSize; i++ {
		x := n.data[i] ^ data[i]
		if x != 0 {
			pl += uint32(bits.LeadingZeros8(x))
			return min(pl, limit)
		}
		pl += 8
		if pl >= limit {
			return limit
		}
	}
	return min(pl, limit)
}

func lpmSplit(key []byte) (uint32, []byte) {
	return binary.NativeEndian.Uint32(key), key[4:]
}

// lookup is trie_lookup_elem: the longest prefix match.
func (t *lpmTrie) lookup(key []byte) *lpmNode {
	prefixlen, data := lpmSplit(key)
	if prefixlen > t.maxPrefix {
		return nil
	}
	var found *lpmNode
	for n := t.root; n != nil; {
		matchlen := t.longestPrefixMatch(n, prefixlen, data)
		if matchlen == t.maxPrefix {
			found = n
			break
		}
		if matchlen < n.prefixlen {
			break
		}
		if !n.im {
			found = n
		}
		n = n.child[extractBit(data, n.prefixlen)]
	}
	return found
}

func (m *Map) lpmLookup(key, out []byte) error {
	t := m.lpm
	t.mu.RLock()
	n := t.lookup(key)
	if n != nil {
		copy(out, m.valueAt(n.slot)[:m.valueSize])
	}
	t.mu.RUnlock()
	if n == nil {
		return m.err("lookup", eNOENT, "")
	}
	return nil
}

func (m *Map) lpmOffset(key []byte) (uint32, bool) {
	t := m.lpm
	t.mu.RLock()
	n := t.lookup(key)
	t.mu.RUnlock()
	if n == nil {
		return 0, false
	}
	return n.slot * m.elemSize, true
}

// addElem is trie_check_add_elem.
func (m *Map) lpmAddElem(flags UpdateFlags) error {
	if flags == UpdateExist {
		return m.err("update", eNOENT, "")
	}
	if m.lpm.n == m.maxEntries {
		return m.err("update", eNOSPC, "lpm_trie is full (max_entries %d)", m.maxEntries)
	}
	m.lpm.n++
	return nil
}

func (t *lpmTrie) newNode(prefixlen uint32, data []byte) *lpmNode {
	return &lpmNode{prefixlen: prefixlen, data: append([]byte(nil), data[:t.dataSize]...)}
}

func (t *lpmTrie) takeSlot(n *lpmNode) {
	n.slot = t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
}

// lpmUpdate is trie_update_elem. An existing element is updated in place
// (the kernel links a new node); its key data is replaced, as the kernel's.
func (m *Map) lpmUpdate(key, value []byte, flags UpdateFlags) error {
	const op = "update"
	t := m.lpm
	if flags > UpdateExist {
		return m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
	}
	prefixlen, data := lpmSplit(key)
	if prefixlen > t.maxPrefix {
		return m.err(op, eINVAL, "prefix length %d exceeds %d", prefixlen, t.maxPrefix)
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	slot := &t.root
	var node *lpmNode
	var matchlen uint32
	for node = *slot; node != nil; node = *slot {
		matchlen = t.longestPrefixMatch(node, prefixlen, data)
		if node.prefixlen != matchlen || node.prefixlen == prefixlen {
			break
		}
		slot = &node.child[extractBit(data, node.prefixlen)]
	}

	store := func(n *lpmNode) {
		copy(m.valueAt(n.slot)[:m.valueSize], value)
	}

	if node == nil {
		if err := m.lpmAddElem(flags); err != nil {
			return err
		}
		n := t.newNode(prefixlen, data)
		t.takeSlot(n)
		store(n)
		*slot = n
		return nil
	}

	if node.prefixlen == matchlen {
		if !node.im {
			if flags == UpdateNoExist {
				return m.err(op, eEXIST, "")
			}
		} else {
			if err := m.lpmAddElem(flags); err != nil {
				return err
			}
			node.im = false
			t.takeSlot(node)
		}
		copy(node.data, data)
		store(node)
		return nil
	}

	if err := m.lpmAddElem(flags); err != nil {
		return err
	}
	n := t.newNode(prefixlen, data)
	t.takeSlot(n)
	store(n)

	// The new node matches a prefix of node: it becomes its parent.
	if matchlen == prefixlen {
		n.child[extractBit(node.data, matchlen)] = node
		*slot = n
		return nil
	}

	im := t.newNode(matchlen, node.data)
	im.im = true
	if extractBit(data, matchlen) != 0 {
		im.child[0], im.child[1] = node, n
	} else {
		im.child[0], im.child[1] = n, node
	}
	*slot = im
	return nil
}

// lpmDelete is trie_delete_elem (exact match).
func (m *Map) lpmDelete(key []byte) error {
	const op = "delete"
	t := m.lpm
	prefixlen, data := lpmSplit(key)
	if prefixlen > t.maxPrefix {
		return m.err(op, eINVAL, "prefix length %d exceeds %d", prefixlen, t.maxPrefix)
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	trim := &t.root
	trim2 := trim
	var parent, node *lpmNode
	var matchlen uint32
	for node = *trim; node != nil; node = *trim {
		matchlen = t.longestPrefixMatch(node, prefixlen, data)
		if node.prefixlen != matchlen || node.prefixlen == prefixlen {
			break
		}
		parent = node
		trim2 = trim
		trim = &node.child[extractBit(data, node.prefixlen)]
	}
	if node == nil || node.prefixlen != prefixlen || node.prefixlen != matchlen || node.im {
		return m.err(op, eNOENT, "")
	}
	t.n--
	t.free = append(t.free, node.slot)

	if node.child[0] != nil && node.child[1] != nil {
		node.im = true
		return nil
	}
	// Keep every intermediate node with exactly two children.
	if parent != nil && parent.im && node.child[0] == nil && node.child[1] == nil {
		if node == parent.child[0] {
			*trim2 = parent.child[1]
		} else {
			*trim2 = parent.child[0]
		}
		return nil
	}
	switch {
	case node.child[0] != nil:
		*trim = node.child[0]
	case node.child[1] != nil:
		*trim = node.child[1]
	default:
		*trim = nil
	}
	return nil
}

// lpmNextKey is trie_get_next_key: a post-order walk, more specific
// prefixes first; a missing or invalid key restarts at the leftmost node.
func (m *Map) lpmNextKey(key, out []byte) error {
	t := m.lpm
	t.mu.RLock()
	defer t.mu.RUnlock()
	searchRoot := t.root
	if searchRoot == nil {
		return m.err("next key", eNOENT, "")
	}
	var next *lpmNode
	if key != nil {
		if prefixlen, data := lpmSplit(key); prefixlen <= t.maxPrefix {
			var stack [lpmDataSizeMax*8 + 1]*lpmNode
			sp := -1
			var node *lpmNode
			var matchlen uint32
			for node = searchRoot; node != nil; {
				sp++
				stack[sp] = node
				matchlen = t.longestPrefixMatch(node, prefixlen, data)
				if node.prefixlen != matchlen || node.prefixlen == prefixlen {
					break
				}
				node = node.child[extractBit(data, node.prefixlen)]
			}
			if node != nil && node.prefixlen == matchlen && !node.im {
				// The first node after the match in post-order.
				node = stack[sp]
				found := false
				for sp > 0 && !found {
					parent := stack[sp-1]
					if parent.child[0] == node && parent.child[1] != nil {
						searchRoot = parent.child[1]
						found = true
						break
					}
					if !parent.im {
						next = parent
						found = true
						break
					}
					node = parent
					sp--
				}
				if !found {
					return m.err("next key", eNOENT, "")
				}
			}
		}
	}
	if next == nil {
		// The leftmost real node; intermediate nodes always have two children.
		for node := searchRoot; node != nil; {
			if node.im {
				node = node.child[0]
				continue
			}
			next = node
			node = node.child[0]
			if node == nil {
				node = next.child[1]
			}
		}
	}
	binary.NativeEndian.PutUint32(out, next.prefixlen)
	copy(out[4:], next.data)
	return nil
}
