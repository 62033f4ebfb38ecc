// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title The EnergyLedger's interface for the contracts that hold its roles (registry, market, incentives).
interface IEnergyLedger {
    /// One attested reading's effect: mint `exportWh`, then burn `importWh` (docs/settlement.md).
    struct ReadingEffect {
        address owner;
        uint64 exportWh;
        uint64 importWh;
        bytes32 ref;
    }

    /// A seller's side of a settled interval: `transferWei` leaves its lock, `unlockWei` returns to its balance.
    struct LockedDebit {
        address from;
        uint256 transferWei;
        uint256 unlockWei;
    }

    /// A buyer's side of a settled interval: `amount` wei credited to its ledger balance.
    struct Credit {
        address to;
        uint256 amount;
    }

    function applyReadings(ReadingEffect[] calldata effects) external;
    function lock(address from, uint256 amount) external;
    function unlock(address from, uint256 amount) external;
    function settleLocked(LockedDebit[] calldata debits, Credit[] calldata credits) external;
    function depositFor(address account) external payable;
    function balanceOf(address account) external view returns (uint256);
}
