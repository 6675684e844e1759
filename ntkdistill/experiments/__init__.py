"""The paper's experiments as functions: Table 1 (Section 2) and Figure 1 (Section 4)."""
