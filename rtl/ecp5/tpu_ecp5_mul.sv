// tpu_ecp5_mul: a signed multiply on one Lattice ECP5 MULT18X18D, using the block's own registers.
// For synthesis only: scripts/synth.py reads this directory and defines SYSTOLE_ECP5, and the modules that
// instantiate it (tpu_pe, tpu_vpu) use it in place of their generic multiply, with exactly their timing:
// an operand with RegInA/RegInB is the block's input register, loaded at an edge with in_en_i (the
// instantiating module keeps its own copy where it needs the value, loaded the same way), else the
// port itself; with RegOut p_o is the block's output register, loaded at an edge with p_en_i, else the
// combinational product. Simulation and `make gls` use the generic RTL; tb/ecp5 runs the array and VPU
// testbenches on this branch with a behavioural model of the block (docs/synth.md).
//
// Parameters
//   AW, BW  : operand widths (signed, at most 18 each: the block's ports)
//   PW      : product width (at most 36; the product is exact when PW >= AW + BW)
//   RegInA, RegInB, RegOut : which of the block's registers are used
// Ports
//   clk_i            : clock (no reset: the block's registers are pure datapath)
//   in_en_i          : load the used input registers from a_i and b_i
//   a_i, b_i         : signed operands
//   p_en_i           : with RegOut, load the product into the output register
//   p_o              : the product (registered with RegOut)

module tpu_ecp5_mul #(
  parameter int AW     = 16,
  parameter int BW     = 16,
  parameter int PW     = 32,
  parameter bit RegInA = 1'b1,
  parameter bit RegInB = 1'b1,
  parameter bit RegOut = 1'b1
) (
  input  logic          clk_i,
  input  logic          in_en_i,
  input  logic [AW-1:0] a_i,
  input  logic [BW-1:0] b_i,
  input  logic          p_en_i,
  output logic [PW-1:0] p_o
);

  localparam InClkA = RegInA ? "CLK0" : "NONE";
  localparam InClkB = RegInB ? "CLK0" : "NONE";
  localparam OutClk = RegOut ? "CLK0" : "NONE";

  logic [17:0] a, b;
  logic [35:0] p;
  assign a   = 18'($signed(a_i));
  assign b   = 18'($signed(b_i));
  assign p_o = p[PW-1:0];

  // CE0 enables the input registers, CE1 the output register; no reset (RST0 low), no GSR.
  MULT18X18D #(
    .REG_INPUTA_CLK (InClkA),
    .REG_INPUTA_CE  ("CE0"),
    .REG_INPUTB_CLK (InClkB),
    .REG_INPUTB_CE  ("CE0"),
    .REG_OUTPUT_CLK (OutClk),
    .REG_OUTPUT_CE  ("CE1"),
    .GSR            ("DISABLED")
  ) u_mult (
    .A17(a[17]), .A16(a[16]), .A15(a[15]), .A14(a[14]), .A13(a[13]), .A12(a[12]), .A11(a[11]),
    .A10(a[10]), .A9(a[9]), .A8(a[8]), .A7(a[7]), .A6(a[6]), .A5(a[5]), .A4(a[4]), .A3(a[3]), .A2(a[2]),
    .A1(a[1]), .A0(a[0]),
    .B17(b[17]), .B16(b[16]), .B15(b[15]), .B14(b[14]), .B13(b[13]), .B12(b[12]), .B11(b[11]),
    .B10(b[10]), .B9(b[9]), .B8(b[8]), .B7(b[7]), .B6(b[6]), .B5(b[5]), .B4(b[4]), .B3(b[3]), .B2(b[2]),
    .B1(b[1]), .B0(b[0]),
    .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),
    .CLK0(clk_i), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0),
    .CE0(in_en_i), .CE1(p_en_i), .CE2(1'b0), .CE3(1'b0),
    .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
    .P35(p[35]), .P34(p[34]), .P33(p[33]), .P32(p[32]), .P31(p[31]), .P30(p[30]), .P29(p[29]),
    .P28(p[28]), .P27(p[27]), .P26(p[26]), .P25(p[25]), .P24(p[24]), .P23(p[23]), .P22(p[22]),
    .P21(p[21]), .P20(p[20]), .P19(p[19]), .P18(p[18]), .P17(p[17]), .P16(p[16]), .P15(p[15]),
    .P14(p[14]), .P13(p[13]), .P12(p[12]), .P11(p[11]), .P10(p[10]), .P9(p[9]), .P8(p[8]), .P7(p[7]),
    .P6(p[6]), .P5(p[5]), .P4(p[4]), .P3(p[3]), .P2(p[2]), .P1(p[1]), .P0(p[0])
  );

endmodule
