import { describe, expect, it } from "vitest";
import { csvCell, csvFileName, csvLine, toCsv } from "./csv";

describe("csvCell", () => {
  it("writes numbers without grouping, empty for missing", () => {
    expect(csvCell(1234567)).toBe("1234567");
    expect(csvCell(0.1843)).toBe("0.1843");
    expect(csvCell(0)).toBe("0");
    expect(csvCell(null)).toBe("");
    expect(csvCell(undefined)).toBe("");
    expect(csvCell(Number.NaN)).toBe("");
    expect(csvCell(true)).toBe("true");
  });

  it("leaves plain text alone", () => {
    expect(csvCell("example.com")).toBe("example.com");
    expect(csvCell("https://shop.example/a?x=1")).toBe("https://shop.example/a?x=1");
    expect(csvCell("")).toBe("");
  });

  it("quotes commas, quotes and line breaks", () => {
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell("cr\rlf")).toBe('"cr\rlf"');
    expect(csvCell(" padded ")).toBe('" padded "');
  });

  it("defuses formulas in text, not in numbers", () => {
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell("@sum")).toBe("'@sum");
    expect(csvCell("+1,2")).toBe(`"'+1,2"`);
    expect(csvCell(-4)).toBe("-4");
  });
});

describe("toCsv", () => {
  it("writes a header row and one line per row, CRLF", () => {
    const text = toCsv({
      columns: ["url", "clicks"],
      rows: [
        ["https://a.example/?q=1,2", 3],
        ['the "b" page', 1],
        [null, 0],
      ],
    });
    expect(text).toBe('url,clicks\r\n"https://a.example/?q=1,2",3\r\n"the ""b"" page",1\r\n,0\r\n');
  });

  it("writes the header alone for an empty table", () => {
    expect(toCsv({ columns: ["stage", "count"], rows: [] })).toBe("stage,count\r\n");
  });

  it("joins a line", () => {
    expect(csvLine(["a", 1, null, "b,c"])).toBe('a,1,,"b,c"');
  });
});

describe("csvFileName", () => {
  it("keeps safe characters only", () => {
    expect(csvFileName("spring-sale", "links")).toBe("spring-sale-links.csv");
    expect(csvFileName("spring sale", null, "run/3f2a", "funnel")).toBe("spring_sale-run_3f2a-funnel.csv");
    expect(csvFileName()).toBe("report.csv");
  });
});
