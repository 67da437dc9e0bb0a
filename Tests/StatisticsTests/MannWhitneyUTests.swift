import Testing
@testable import Statistics

/// Expected values from `scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method=M,
/// use_continuity=True)` (scipy 1.17.1), M named on each test.
@Suite("Mann-Whitney U")
struct MannWhitneyUTests {
    static func close(_ actual: Double, _ expected: Double, relative: Double = 1e-9) -> Bool {
        abs(actual - expected) <= relative * max(abs(expected), 1e-300)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var a: [Double]
        var b: [Double]
        var u: Double
        var p: Double
        var testDescription: String { name }
    }

    /// method='exact'
    static let exactCases: [Case] = [
        Case(name: "5 vs 5 separated", a: [1.1, 1.3, 1.2, 1.5, 1.4], b: [2.1, 2.3, 2.2, 2.5, 2.4],
             u: 0, p: 0.007936507936507936),
        Case(name: "5 vs 5 separated, reversed", a: [2.1, 2.3, 2.2, 2.5, 2.4], b: [1.1, 1.3, 1.2, 1.5, 1.4],
             u: 25, p: 0.007936507936507936),
        Case(name: "5 vs 5 overlapping", a: [1.0, 2.5, 3.1, 4.7, 5.2], b: [2.0, 3.3, 4.1, 5.9, 6.4],
             u: 8, p: 0.42063492063492064),
        Case(name: "3 vs 7 overlapping", a: [12.0, 15.5, 9.1], b: [10.2, 11.7, 13.9, 14.4, 16.8, 18.1, 8.7],
             u: 9, p: 0.8333333333333333),
        Case(name: "3 vs 7 separated", a: [20, 21, 22], b: [1, 2, 3, 4, 5, 6, 7],
             u: 21, p: 0.016666666666666666),
        // a = [(i*7) % 23 + 0.5 for i in range(20)], b = [(i*11) % 29 + 2.25 for i in range(25)]
        Case(name: "20 vs 25", a: MannWhitneyUTests.sequence20, b: MannWhitneyUTests.sequence25,
             u: 186, p: 0.14821262166424773),
        // before as in ChangeDecisionTests, after = before * 1.2
        Case(name: "10 vs 10 shifted 20%", a: ChangeDecisionTests.before, b: ChangeDecisionTests.shifted(1.2),
             u: 0, p: 1.082508822446903e-05),
    ]

    static let sequence20 = (0..<20).map { Double(($0 * 7) % 23) + 0.5 }
    static let sequence25 = (0..<25).map { Double(($0 * 11) % 29) + 2.25 }

    @Test(arguments: exactCases)
    func exactMatchesScipy(_ c: Case) {
        let result = MannWhitneyU.test(c.a, c.b)
        #expect(result.method == .exact)
        #expect(result.statistic == c.u)
        #expect(Self.close(result.pValue, c.p))
    }

    /// Small samples with ties: the exact permutation p-value, from
    /// `scipy.stats.permutation_test((a, b), U, permutation_type="independent", n_resamples=np.inf,
    /// alternative="two-sided")` with U = `mannwhitneyu(x, y).statistic` (scipy 1.17.1). The last
    /// number of each line is scipy's tie-corrected normal approximation, which the exact value replaces.
    static let permutationCases: [Case] = [
        Case(name: "all tied within sides, 3 vs 3", a: [1, 1, 1], b: [2, 2, 2], u: 0, p: 0.1),  // asymptotic 0.0469
        Case(name: "ties, 8 vs 9", a: [1, 2, 2, 3, 3, 3, 4, 5], b: [3, 4, 4, 5, 5, 6, 7, 7, 8],
             u: 7.5, p: 0.005183052241875772),  // asymptotic 0.00637
        Case(name: "ties, 3 vs 3", a: [1, 2, 2], b: [2, 3, 4], u: 1, p: 0.3),  // asymptotic 0.164
        Case(name: "all tied", a: [5, 5, 5, 5], b: [5, 5, 5], u: 6, p: 1.0),
        Case(name: "ties, 5 vs 4", a: [10, 10, 11, 12, 12], b: [12, 13, 13, 13], u: 1,
             p: 0.047619047619047616),  // asymptotic 0.0304
        Case(name: "ties, 5 vs 5", a: [1, 1, 2, 2, 3], b: [2, 3, 3, 4, 4], u: 3, p: 0.07936507936507936),
        Case(name: "ties, unordered, 4 vs 3", a: [3, 1, 2, 2], b: [2, 0.5, 0.5], u: 10, p: 0.22857142857142856),
    ]

    @Test(arguments: permutationCases)
    func exactWithTiesMatchesScipyPermutationTest(_ c: Case) {
        let result = MannWhitneyU.test(c.a, c.b)
        #expect(result.method == .exact)
        #expect(result.statistic == c.u)
        #expect(Self.close(result.pValue, c.p))
    }

    /// method='asymptotic', forced, on samples with ties.
    static let asymptoticCases: [Case] = [
        Case(name: "ties, 8 vs 9", a: [1, 2, 2, 3, 3, 3, 4, 5], b: [3, 4, 4, 5, 5, 6, 7, 7, 8],
             u: 7.5, p: 0.006373133838085873),
        Case(name: "all tied", a: [5, 5, 5, 5], b: [5, 5, 5], u: 6, p: 1.0),
        Case(name: "all tied within sides, 3 vs 3", a: [1, 1, 1], b: [2, 2, 2], u: 0, p: 0.04685417760387376),
    ]

    @Test(arguments: asymptoticCases)
    func asymptoticWithTiesMatchesScipy(_ c: Case) {
        let result = MannWhitneyU.test(c.a, c.b, method: .asymptotic)
        #expect(result.method == .asymptotic)
        #expect(result.statistic == c.u)
        #expect(Self.close(result.pValue, c.p))
    }

    /// Large samples with ties fall back to the normal approximation (m * n above `exactLimit`).
    @Test func largeSamplesWithTiesUseTheAsymptoticMethod() {
        // a = [float((i*37) % 101) for i in range(60)], b = [float((i*53) % 103 + 10) for i in range(60)]
        let result = MannWhitneyU.test((0..<60).map { Double(($0 * 37) % 101) }, (0..<60).map { Double(($0 * 53) % 103 + 10) })
        #expect(result.method == .asymptotic)
        #expect(result.statistic == 1523.5)
        #expect(Self.close(result.pValue, 0.14741933571660895))
    }

    /// method='asymptotic' on samples without ties, forced.
    @Test func forcedAsymptoticMatchesScipy() {
        let overlapping = MannWhitneyU.test([1.0, 2.5, 3.1, 4.7, 5.2], [2.0, 3.3, 4.1, 5.9, 6.4], method: .asymptotic)
        #expect(overlapping.method == .asymptotic)
        #expect(Self.close(overlapping.pValue, 0.4033953048926283))
        let large = MannWhitneyU.test(Self.sequence20, Self.sequence25, method: .asymptotic)
        #expect(Self.close(large.pValue, 0.14693524317011905))
    }

    @Test func theExactPValueWithTiesIsNeverBelowTheSmallestAttainable() {
        // 3 vs 3 can never reach 0.05, ties or not: the permutation floor is 2 / C(6, 3).
        for b in [[2.0, 2, 2], [2, 3, 3], [1, 2, 3]] {
            #expect(MannWhitneyU.test([1, 1, 1], b).pValue >= Power.smallestPValue(3, 3) - 1e-12)
        }
    }

    @Test func exactDistributionIsAProbabilityDistribution() {
        let pmf = MannWhitneyU.nullDistribution(7, 4)
        #expect(pmf.count == 29)
        #expect(abs(pmf.reduce(0, +) - 1) < 1e-12)
        #expect(zip(pmf, pmf.reversed()).allSatisfy { abs($0 - $1) < 1e-15 })  // symmetric
        #expect(abs(pmf[0] - 1.0 / 330) < 1e-15)  // 1 / C(11, 4)
        #expect(MannWhitneyU.nullDistribution(4, 7) == pmf)
    }

    /// method='exact', a = [2.0*i for i in range(50)], b = [2.0*i + d for i in range(50)], d = 1 and 31.
    @Test(arguments: [(1.0, 1225.0, 0.8664717523984028), (31.0, 595.0, 3.384906984836043e-06)])
    func fiftyVersusFiftyIsExactAndMatchesScipy(offset: Double, u: Double, p: Double) {
        let a = (0..<50).map { Double($0) * 2 }, b = (0..<50).map { Double($0) * 2 + offset }
        let result = MannWhitneyU.test(a, b)
        #expect(result.method == .exact)
        #expect(result.statistic == u)
        #expect(Self.close(result.pValue, p))
    }

    @Test func emptySampleHasNoPValue() {
        #expect(MannWhitneyU.test([], [1, 2]).pValue.isNaN)
    }

    /// The permutation p-value's counting, as first written (nested rows, copied per step), is the
    /// reference for the flat one: bit for bit the same p on tied samples of several shapes.
    @Test func thePermutationCountIsTheNestedRowsOne() {
        func reference(ranks: [Double], m: Int) -> Double {
            let doubled = ranks.map { Int(($0 * 2).rounded()) }
            let observed = doubled[..<m].reduce(0, +)
            let total = doubled.reduce(0, +)
            var ways = [[Double]](repeating: [Double](repeating: 0, count: total + 1), count: m + 1)
            ways[0][0] = 1
            for (index, rank) in doubled.enumerated() {
                for k in stride(from: min(m, index + 1), through: 1, by: -1) {
                    let previous = ways[k - 1]
                    for s in stride(from: total, through: rank, by: -1) where previous[s - rank] != 0 {
                        ways[k][s] += previous[s - rank]
                    }
                }
            }
            let counts = ways[m]
            let all = counts.reduce(0, +)
            let atMost = counts[...observed].reduce(0, +), atLeast = counts[observed...].reduce(0, +)
            return min(1, 2 * min(atMost, atLeast) / all)
        }
        let pooledHistory: [Double] = (0..<40).map { Double($0 % 7) }, candidate: [Double] = (0..<8).map { Double($0 % 5) + 0.5 }
        let few: [Double] = (0..<8).map { Double($0 % 3) }, many: [Double] = (0..<30).map { Double($0 % 9) }
        let cases: [([Double], [Double])] = [([1, 1, 1], [2, 2, 2]), ([1, 2, 2, 3, 5], [2, 3, 3, 4]),
                                             (pooledHistory, candidate), (few, many)]
        for (a, b) in cases {
            let ranks = MannWhitneyU.averageRanks(of: a + b).ranks
            let ours = MannWhitneyU.permutationPValue(ranks: ranks, m: a.count)
            #expect(ours.bitPattern == reference(ranks: ranks, m: a.count).bitPattern, "\(a) vs \(b): \(ours)")
        }
    }
}
