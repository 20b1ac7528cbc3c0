"""A constraint propagation solver (AC-3 then search) written in the older
style: `super(Cls, self).__init__(...)`, plus a cooperative diamond of
mixins chained with `super().__init__(**kw)`."""


class Named(object):
    def __init__(self, name, **kw):
        super().__init__(**kw)
        self.name = name


class Counted(object):
    made = 0

    def __init__(self, **kw):
        super().__init__(**kw)
        Counted.made += 1
        self.serial = Counted.made


class Variable(Named, Counted):
    def __init__(self, name, domain):
        super(Variable, self).__init__(name=name)
        self.domain = set(domain)

    def __repr__(self):
        return "Variable(%s)" % self.name


class Constraint(object):
    def __init__(self, left, right):
        self.left = left
        self.right = right

    def allows(self, a, b):
        raise NotImplementedError

    def revise(self, x, y):
        """Drops values of x without support in y; says whether it did."""
        removed = False
        for a in sorted(x.domain):
            if x is self.left:
                ok = any(self.allows(a, b) for b in y.domain)
            else:
                ok = any(self.allows(b, a) for b in y.domain)
            if not ok:
                x.domain.discard(a)
                removed = True
        return removed


class NotEqual(Constraint):
    def __init__(self, left, right):
        super(NotEqual, self).__init__(left, right)

    def allows(self, a, b):
        return a != b


class LessThan(Constraint):
    def __init__(self, left, right, gap=1):
        super(LessThan, self).__init__(left, right)
        self.gap = gap

    def allows(self, a, b):
        return a + self.gap <= b


class Problem(object):
    def __init__(self):
        self.variables = []
        self.constraints = []

    def var(self, name, domain):
        v = Variable(name, domain)
        self.variables.append(v)
        return v

    def add(self, constraint):
        self.constraints.append(constraint)

    def arcs(self):
        for c in self.constraints:
            yield c, c.left, c.right
            yield c, c.right, c.left

    def propagate(self):
        queue = list(self.arcs())
        revisions = 0
        while queue:
            c, x, y = queue.pop(0)
            if c.revise(x, y):
                revisions += 1
                if not x.domain:
                    return None
                for other in self.constraints:
                    if other is not c and (other.left is x or other.right is x):
                        z = other.right if other.left is x else other.left
                        queue.append((other, z, x))
        return revisions

    def solve(self, assignment=None):
        assignment = dict(assignment or {})
        free = [v for v in self.variables if v.name not in assignment]
        if not free:
            return assignment
        v = min(free, key=lambda w: (len(w.domain), w.serial))
        for value in sorted(v.domain):
            if all(self.consistent(c, v, value, assignment) for c in self.constraints):
                assignment[v.name] = value
                found = self.solve(assignment)
                if found is not None:
                    return found
                del assignment[v.name]
        return None

    def consistent(self, c, v, value, assignment):
        if c.left is v and c.right.name in assignment:
            return c.allows(value, assignment[c.right.name])
        if c.right is v and c.left.name in assignment:
            return c.allows(assignment[c.left.name], value)
        return True


def main(scale=1.0):
    size = max(3, int(6 * scale))
    problem = Problem()
    vs = [problem.var("v%d" % i, range(size + 2)) for i in range(size)]
    for i in range(size - 1):
        problem.add(LessThan(vs[i], vs[i + 1], gap=1 if i % 2 else 0) if i % 2 == 0 else LessThan(vs[i], vs[i + 1]))
    for i in range(0, size - 2, 2):
        problem.add(NotEqual(vs[i], vs[i + 2]))
    revisions = problem.propagate()
    solution = problem.solve()
    return {
        "revisions": revisions,
        "domains": [sorted(v.domain) for v in vs],
        "solution": sorted(solution.items()),
        "serials": [v.serial for v in vs],
        "made": Counted.made,
        "names": [repr(v) for v in vs],
    }
