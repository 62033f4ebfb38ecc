// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title The MeterRegistry's interface for BalancingIncentives.
interface IMeterRegistry {
    function intervalSeconds() external view returns (uint64);
    function meterOwner(bytes32 meterId) external view returns (address);
    function meterArea(bytes32 meterId) external view returns (bytes32);
    function windowWithBaseline(bytes32 meterId, uint64 startInterval, uint64 endInterval, uint16 baselineDays)
        external
        view
        returns (uint64[] memory exportWh, uint64[] memory importWh, uint64[] memory baseExportWh, uint64[] memory baseImportWh);
}
