package re2size

// flatSize bounds the size of RE2's flattened program (prog.cc Flatten)
// for a graph entered at start (and, when not nil, at the unanchored
// loop su). Flatten emits, for every root (the entries, and every node a
// consuming instruction leads to), the list of instructions its epsilon
// closure reaches, with a kInstNop for each other root the closure runs
// into. It makes a node reached from two roots' closures a root of its
// own (MarkDominator); counting it in each closure instead is the larger
// of the two except when its closure holds one instruction, hence one
// more per node with two epsilon predecessors.
func flatSize(entries []*node) int {
	roots := map[*node]bool{}
	preds := map[*node]int{}
	seen := map[*node]bool{}
	stack := append([]*node(nil), entries...)
	for _, e := range entries {
		roots[e] = true
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil || seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case n.alt:
			preds[n.out]++
			preds[n.out1]++
			stack = append(stack, n.out, n.out1)
		case n.nop:
			preds[n.out]++
			stack = append(stack, n.out)
		case n.out != nil:
			roots[n.out] = true
			stack = append(stack, n.out)
		}
	}
	size := 1 // kInstFail
	for r := range roots {
		size += closure(r, roots)
	}
	for n, k := range preds {
		if k > 1 && !roots[n] {
			size++
		}
	}
	return size
}

// closure counts the flattened list of one root: the weight of every
// node its epsilon closure reaches, and one Nop for each other root.
func closure(root *node, roots map[*node]bool) int {
	size := 0
	seen := map[*node]bool{}
	stack := []*node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil || seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case n != root && roots[n]:
			size++ // a kInstNop into that root's list
		case n.alt:
			stack = append(stack, n.out1, n.out)
		case n.nop:
			stack = append(stack, n.out)
		default:
			size += n.weight
		}
	}
	return size
}
