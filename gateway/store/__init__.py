"""SQL, one module per aggregate. Functions take a connection first, use named
parameters and leave the transaction to the caller."""
