#include "p2p/transaction.h"
int main() {
  return 0;
}
